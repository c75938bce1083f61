/**
 * `conclave results` reports a dead-lettered root as dead-lettered however
 * many dead letters the store holds: it read only the oldest 10,000 (the
 * store's default page), so past that a root that died was printed
 * `pending`, as if it could still finish.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ROOT_SUBMITTED } from "../../src/runtime/context.js";
import { openStore } from "../../src/store/open-store.js";
import { jsonLines, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-results-many-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("a root dead-lettered after 10,000 other dead letters is reported dead_lettered", async () => {
  const url = `sqlite:${join(work, "many.db")}`;
  const store = await openStore(url);
  try {
    await store.completeTask({
      taskId: "submitter",
      agent: "lead",
      at: 1,
      effects: [{ kind: ROOT_SUBMITTED, key: "late-root", data: { role: "worker", task: "t" } }],
      outbox: [],
    });
    const dead = (id: string, at: number) =>
      store.recordDeadLetter({
        id,
        subject: "many.task.worker.t",
        reason: id === "late-root" ? "the late root died" : "another task died",
        deliveries: 1,
        at,
        data: "",
      });
    for (let i = 0; i < 10_000; i++) await dead(`other-${String(i).padStart(5, "0")}`, 1_000 + i);
    await dead("late-root", 100_000);
  } finally {
    await store.close();
  }
  const r = await run(["results", "--store", url, "--json"], work);
  assert.equal(r.code, 0, r.stderr);
  const [line] = jsonLines(r.stdout) as { root: string; status: string; reason?: string }[];
  assert.equal(line?.root, "late-root");
  assert.equal(line?.status, "dead_lettered", JSON.stringify(line));
  assert.equal(line?.reason, "the late root died");
});
