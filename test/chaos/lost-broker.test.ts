/**
 * A broker connection lost for good (RabbitMQ's transport does not
 * reconnect) ends `conclave agent` with exit 1 and the reason — never an
 * uncaught error thrown from a heartbeat timer — so a supervisor restarts it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { finish, reviewSwarmYaml, start } from "../cli/run-cli.js";
import { until } from "../helpers/until.js";
import { amqpMissing, randomSwarmName } from "../integration/fixtures/processes.js";
import { startChaosProxy } from "./proxy.js";

const dir = mkdtempSync(join(tmpdir(), "conclave-lost-broker-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("an agent whose RabbitMQ link is cut for good exits 1 with the reason", async (t) => {
  const missing = await amqpMissing();
  if (missing !== undefined) {
    if (process.env["CI"] === "true") assert.fail(missing);
    t.skip(missing);
    return;
  }
  const proxy = await startChaosProxy(5672);
  try {
    const file = join(dir, "swarm.yaml");
    writeFileSync(
      file,
      reviewSwarmYaml({
        name: randomSwarmName("lost"),
        head: `transport: amqp://guest:guest@127.0.0.1:${proxy.port}\n`,
        workload: { tasks: 1 },
      }),
    );
    const agent = start(["agent", "--swarm", file, "--id", "dev-1"], dir);
    let stderr = "";
    agent.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const done = finish(agent);
    await until(() => proxy.accepted > 0, 20_000, "the agent to connect", 100);
    await new Promise((r) => setTimeout(r, 1500));
    proxy.cut();
    const run = await Promise.race([
      done,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000)),
    ]);
    if (run === undefined) agent.kill("SIGKILL");
    assert.ok(run !== undefined, `the agent did not exit after the cut:\n${stderr.slice(-1500)}`);
    assert.equal(run.code, 1, stderr.slice(-1500));
    assert.match(stderr, /connection to the broker was lost for good/);
    assert.doesNotMatch(stderr, /Uncaught|unexpected failure/i);
  } finally {
    await proxy.close();
  }
});
