/**
 * `conclave top` stopped by SIGINT leaves no timer behind: the wait for the
 * next redraw (up to 24 days with --interval) was never cancelled, holding
 * the process open after the command had stopped.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { showTop } from "../../src/cli/top.js";
import { openStore } from "../../src/store/open-store.js";
import { until } from "../helpers/until.js";

const NATS = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";
const work = mkdtempSync(join(tmpdir(), "conclave-review-top-timer-"));
after(() => rmSync(work, { recursive: true, force: true }));

const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

test("top stopped by SIGINT returns with its redraw timer cleared", async () => {
  const store = join(work, "top.db");
  const file = join(work, "swarm.yaml");
  writeFileSync(
    file,
    `swarm: toptimer${process.pid}\ntransport: ${NATS}\nstore: sqlite:${store}\nroles: { r: {} }\nagents: [{ id: a, role: r }]\n`,
  );
  await (await openStore(`sqlite:${store}`)).close();
  const before = timers();
  const listeners = process.listenerCount("SIGINT");
  const shown = showTop(file, { intervalSeconds: 120, once: false, json: true });
  await until(() => process.listenerCount("SIGINT") > listeners, 60_000, "top to start");
  process.emit("SIGINT");
  assert.equal(await shown, 0);
  assert.equal(timers(), before, process.getActiveResourcesInfo().join(", "));
});
