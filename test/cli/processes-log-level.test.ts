/**
 * `conclave --log-level L up … --processes N` applies L to the child
 * processes, which run the agents and so write nearly every log line: it
 * used to apply only to the supervising process, and the children logged at
 * `warn` whatever was asked (`--log-level info` showed no agent joining,
 * `--log-level error` did not quiet their warnings).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { finish, reviewSwarmYaml, start, summaryOf } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-processes-log-level-"));

describe("--log-level with --processes", {
  skip: natsServerAvailable() ? false : "no nats-server on PATH",
}, () => {
  let nats: NatsServer | undefined;
  after(async () => {
    await nats?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("--log-level info reaches the children: their agents' joins are logged", async () => {
    nats = await startNatsServer();
    writeFileSync(
      join(work, "swarm.yaml"),
      reviewSwarmYaml({ name: "loglevel", workload: { tasks: 2 } }),
    );
    const child = start(
      [
        "--log-level",
        "info",
        "up",
        "swarm.yaml",
        "--processes",
        "2",
        "--transport",
        nats.url,
        "--json",
      ],
      work,
    );
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    const r = await finish(child);
    clearTimeout(timer);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.equal(summaryOf(r.stdout).tasks.lost, 0);
    const info = r.stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level?: number; event?: string })
      .filter((line) => line.level === 30 && line.event === "agent.joined");
    assert.ok(info.length > 0, `no info line from the children:\n${r.stderr.slice(-2000)}`);
  });
});
