/**
 * A gateway answers for the tasks it started, not for the rest of the
 * swarm. Task ids are ULIDs, but a child task's id is derived from its
 * parent's and the step's name (`childTaskId`): a caller that knew its own
 * task's id and the handler's step names read its children's results, which
 * the gateway never exposed; any root task another agent of the swarm sent
 * was readable by id too. Such a task reads as an id the gateway does not
 * know (`working`, as any unknown ULID does), and nothing of it is settled.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import type { SwarmConfig as SwarmFile } from "../../src/config/schema.js";
import { PermanentError } from "../../src/errors/index.js";
import { createFrontDoor, type FrontDoor } from "../../src/interop/front-door.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const work = mkdtempSync(join(tmpdir(), "conclave-gateway-internal-"));

describe("a gateway asked about tasks it did not start", () => {
  let swarm: Swarm;
  let config: SwarmFile;
  let door: FrontDoor;

  before(async () => {
    config = parseSwarmConfig(
      `swarm: internal
roles: { front: {}, lead: {}, writer: { tasks: [write] }, vault: { tasks: [secret, fail] } }
agents:
  - { id: gate, role: front }
  - { id: lead, role: lead }
  - { id: w-1, role: writer }
  - { id: v-1, role: vault }
gateway:
  as: gate
  port: 0
  tokens: { ide: internal-token-0123456789abcdef }
  expose: [{ role: writer, task: write }]
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role === "writer") {
            agent.handle("write", async (ctx) => {
              if ((ctx.body as { fail?: boolean }).fail)
                throw new PermanentError("cannot write that");
              const secret = await ctx.call("vault", "secret", {});
              return { wrote: secret === "s3cr3t" ? "with the secret" : "without" };
            });
          }
          if (agent.role === "vault") {
            agent.handle("secret", () => "s3cr3t");
            agent.handle("fail", () => {
              throw new PermanentError("the vault refused: internal detail");
            });
          }
        },
      },
    });
    await swarm.start();
    door = createFrontDoor(swarm, config);
  });

  after(async () => {
    door?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("its own task reads as completed; a child of it and another agent's task do not", async () => {
    const caller = { name: "ide", via: "mcp" as const };
    const id = await door.start(caller, door.find("writer.write"), { text: "x" });
    const own = await door.wait(id, { timeoutMs: 10_000 });
    assert.deepEqual(own, { state: "completed", taskId: id, result: { wrote: "with the secret" } });

    const completions = await swarm.store.latestCompletions({ limit: 10 });
    const child = completions.find((c) => c.taskId !== id)?.taskId;
    assert.ok(child !== undefined, "the child ran");
    assert.deepEqual(await door.state(child), { state: "working", taskId: child });

    const other = await swarm.submit("vault", "secret", {}, { as: "lead" });
    await swarm.wait(other, { timeoutMs: 10_000 });
    assert.deepEqual(await door.state(other), { state: "working", taskId: other });
    // Nor by starting "again" under its id.
    const again = await door.start(caller, door.find("writer.write"), {}, { id: other });
    assert.equal(again, other);
    assert.deepEqual(await door.state(other), { state: "working", taskId: other });
  });

  test("a dead-lettered task reads as failed when the gateway sent it, as unknown when another agent did", async () => {
    const caller = { name: "ide", via: "a2a" as const };
    const id = await door.start(caller, door.find("writer.write"), { fail: true });
    const own = await door.wait(id, { timeoutMs: 10_000 });
    assert.equal(own.state, "failed");
    const other = await swarm.submit("vault", "fail", {}, { as: "lead" });
    await assert.rejects(swarm.wait(other, { timeoutMs: 10_000 }));
    assert.deepEqual(await door.state(other), { state: "working", taskId: other });
  });
});
