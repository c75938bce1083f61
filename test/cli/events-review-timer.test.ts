/**
 * `conclave events --limit N` (and `top` stopped by a signal) leave no timer
 * behind: the `--seconds` wait (up to 24 days) was never cancelled when the
 * limit was reached, holding the process open after the command was done.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { showEvents } from "../../src/cli/events.js";
import { parseSwarmConfig } from "../../src/config/load.js";
import { openTransport } from "../../src/runtime/from-config.js";
import { until } from "../helpers/until.js";

const NATS = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";
const work = mkdtempSync(join(tmpdir(), "conclave-review-events-timer-"));
after(() => rmSync(work, { recursive: true, force: true }));

const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

test("events --limit 1 returns with its --seconds timer cleared", async () => {
  const swarm = `evtimer${process.pid}`;
  const yaml = `swarm: ${swarm}\ntransport: ${NATS}\nroles: { r: {} }\nagents: [{ id: a, role: r }]\n`;
  const file = join(work, "swarm.yaml");
  writeFileSync(file, yaml);
  const before = timers();
  const publisher = await openTransport(parseSwarmConfig(yaml, { env: {} }));
  const printed: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  let listening = false;
  const stderrLines: string[] = [];
  process.stdout.write = ((chunk: string) => {
    printed.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => {
    if (String(chunk).startsWith("listening on")) listening = true;
    else stderrLines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    const shown = showEvents(file, { follow: false, forMs: 120_000, limit: 1, json: true });
    await until(() => listening, 60_000, "the subscription");
    publisher.publish(`${swarm}.event.test.one`, new TextEncoder().encode("x"));
    code = await shown;
  } finally {
    process.stdout.write = write;
    process.stderr.write = stderr;
    await publisher.close();
  }
  assert.equal(code, 0);
  assert.equal(printed.length, 1, stderrLines.join(""));
  assert.equal(timers(), before, process.getActiveResourcesInfo().join(", "));
});
