/**
 * `conclave results` reports a root whose descendant was dead-lettered (and
 * that was not finished) as dead-lettered, naming the task that died, as the
 * run's summary counts it: it used to print such a root `pending`, as if it
 * could still finish, while `up` counted it among the dead-lettered.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ROOT_COMPLETED, ROOT_SUBMITTED } from "../../src/runtime/context.js";
import { workloadProgress } from "../../src/runtime/workload.js";
import { openStore } from "../../src/store/open-store.js";
import { jsonLines, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-results-descendant-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("a root whose child died is dead_lettered, naming the child; a finished root stays finished", async () => {
  const url = `sqlite:${join(work, "store.db")}`;
  const store = await openStore(url);
  try {
    await store.completeTask({
      taskId: "submitter",
      agent: "lead",
      at: 1,
      effects: [
        { kind: ROOT_SUBMITTED, key: "root-a", data: { role: "dev", task: "code" } },
        { kind: ROOT_SUBMITTED, key: "root-b", data: { role: "dev", task: "code" } },
        { kind: ROOT_SUBMITTED, key: "root-c", data: { role: "dev", task: "code" } },
        { kind: ROOT_SUBMITTED, key: "root-d", data: { role: "dev", task: "code" } },
      ],
      outbox: [],
    });
    // root-a's handler returned (it delegated child-a and did not wait);
    // root-b finished although one of its children died; root-c is still running.
    await store.completeTask({
      taskId: "root-a",
      agent: "dev-1",
      at: 2,
      effects: [],
      outbox: [],
      corr: "root-a",
    });
    await store.completeTask({
      taskId: "root-b",
      agent: "dev-1",
      at: 3,
      effects: [{ kind: ROOT_COMPLETED, key: "root-b", data: { merged: true } }],
      outbox: [],
      corr: "root-b",
    });
    // root-d's handler still runs (it waits on child-d, which died, and may try another way).
    for (const [id, corr] of [
      ["child-a", "root-a"],
      ["child-b", "root-b"],
      ["child-d", "root-d"],
    ]) {
      await store.recordDeadLetter({
        id: id as string,
        subject: "rs.task.sentinel.scan",
        reason: `${id} failed its scan`,
        deliveries: 4,
        at: 2,
        corr: corr as string,
        data: "",
      });
    }
    const progress = await workloadProgress(store);
    assert.equal(progress.deadLettered, 1, "the run's summary counts root-a dead-lettered");
  } finally {
    await store.close();
  }
  const r = await run(["results", "--store", url, "--json"], work);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout) as { root: string; status: string; reason?: string }[];
  const of = (root: string) => lines.find((l) => l.root === root);
  assert.equal(of("root-a")?.status, "dead_lettered", JSON.stringify(of("root-a")));
  assert.match(of("root-a")?.reason ?? "", /child-a.*child-a failed its scan/);
  assert.equal(of("root-b")?.status, "finished");
  assert.equal(of("root-c")?.status, "pending");
  assert.equal(of("root-d")?.status, "pending", "its handler is still running");
});
