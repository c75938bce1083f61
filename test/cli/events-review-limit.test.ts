/**
 * `conclave events --limit N` prints N events, not more: events that came
 * in one burst from the broker were each printed after the limit was
 * reached, until the subscription closed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { openTransport } from "../../src/runtime/from-config.js";
import { until } from "../helpers/until.js";
import { finish, jsonLines, start } from "./run-cli.js";

const NATS = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";
const work = mkdtempSync(join(tmpdir(), "conclave-review-events-limit-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("events --limit 2 prints two of a burst of twenty events", async () => {
  const swarm = `evlimit${process.pid}`;
  const yaml = `swarm: ${swarm}\ntransport: ${NATS}\nroles: { r: {} }\nagents: [{ id: a, role: r }]\n`;
  const file = join(work, "swarm.yaml");
  writeFileSync(file, yaml);
  const listener = start(
    ["events", "--swarm", file, "--limit", "2", "--seconds", "60", "--json"],
    work,
  );
  let stderr = "";
  listener.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const listened = finish(listener);
  await until(() => stderr.includes("listening on"), 60_000, "the listener");
  const transport = await openTransport(parseSwarmConfig(yaml, { env: {} }));
  try {
    // One burst: the broker hands them to the listener together.
    for (let i = 0; i < 20; i++) {
      transport.publish(
        `${swarm}.event.test.burst`,
        new TextEncoder().encode(`not an envelope ${i}`),
      );
    }
    await transport.drain();
  } catch (error) {
    listener.kill();
    throw error;
  }
  const printed = await listened;
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(jsonLines(printed.stdout).length, 2, printed.stdout);
});
