/**
 * The gateway's per-task price (`gateway.pricePerTask`) is held like a
 * delegation's budget: in the store commit that records the task, or not at
 * all. A start that fails holds nothing; started again under the same id,
 * it holds once; the task's end settles it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ledgerReport } from "../../src/cli/ledger.js";
import type { GatewayConfig } from "../../src/config/gateway.js";
import type { SwarmConfig } from "../../src/config/schema.js";
import { FrontDoor } from "../../src/interop/front-door.js";
import { agentAccount, InsufficientCreditsError } from "../../src/ledger/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { ulid } from "../../src/wire/ulid.js";
import { until } from "../helpers/until.js";

const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 2,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

const gateway: GatewayConfig = {
  as: "gate",
  host: "127.0.0.1",
  port: 0,
  tokens: {},
  expose: [{ role: "writer", task: "write" }],
  pricePerTask: 40,
  maxBodyBytes: 4096,
  ratePerMinute: 600,
  waitMs: 2000,
} as GatewayConfig;

describe("the gateway's per-task price commits with its task", () => {
  test("a start whose commit fails holds nothing; started again it holds once, and completion releases it", async () => {
    const t = createTestSwarm({ roles: { lead: {}, writer: { tasks: ["write"] } }, defaults });
    try {
      const { swarm } = t;
      swarm.agent({ id: "gate", role: "lead", budget: { initial: 100, minBalance: 0 } });
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      swarm.agent({ id: "writer-1", role: "writer" }).handle("write", () => gate);
      await swarm.start();
      const door = new FrontDoor(
        swarm,
        { swarm: "t", privileged: {} } as unknown as SwarmConfig,
        gateway,
      );
      const offered = door.find("writer.write");
      const caller = { name: "ide", via: "mcp" as const };

      // The store refuses the task's commit once (a disk error, say).
      const store = swarm.store;
      const completeTask = store.completeTask.bind(store);
      store.completeTask = async () => {
        throw new Error("the disk is gone");
      };
      const id = ulid();
      await assert.rejects(
        door.start(caller, offered, { topic: "bees" }, { id }),
        /the disk is gone/,
      );
      store.completeTask = completeTask;
      assert.equal(await store.balance(agentAccount("gate")), 100, "no price held for no task");
      assert.equal(await store.balance(`escrow:gateway.${id}`), 0);

      // Started again under the same id, and once more: one task, one hold.
      assert.equal(await door.start(caller, offered, { topic: "bees" }, { id }), id);
      assert.equal(await door.start(caller, offered, { topic: "bees" }, { id }), id);
      assert.equal(await store.balance(agentAccount("gate")), 60);
      assert.equal(await store.balance(`escrow:gateway.${id}`), 40);
      assert.deepEqual((await ledgerReport(store)).strandedEscrow, [], "held by a live task");

      release();
      await until(async () => (await door.state(id)).state === "completed", 10_000, "completed");
      assert.equal(await store.balance(agentAccount("writer-1")), 40, "released to the worker");
      assert.equal(await store.balance(`escrow:gateway.${id}`), 0);
      const check = await store.ledgerCheck();
      assert.equal(check.sum, check.minted);
    } finally {
      await t.cleanup();
    }
  });

  test("a task delegated with swarm.delegate whose metered handler delegates in turn completes", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, writer: { tasks: ["write"] }, editor: { tasks: ["edit"] } },
      defaults,
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "gate", role: "lead", budget: { initial: 100, minBalance: 0 } });
      swarm
        .agent({ id: "writer-1", role: "writer", budget: { initial: 50, minBalance: 0 } })
        .handle("write", async (ctx) => {
          await ctx.delegate("editor", "edit", {}, { budget: 20 });
        });
      let edited = 0;
      swarm.agent({ id: "editor-1", role: "editor" }).handle("edit", () => {
        edited++;
      });
      await swarm.start();
      const id = await swarm.delegate("writer", "write", {}, { as: "gate", budget: 40 });
      await until(async () => edited === 1, 10_000, "the edit");
      assert.equal((await swarm.outcome(id))?.status, "completed");
      assert.equal(await swarm.store.balance(`escrow:root.${id}`), 40);
      assert.equal(await swarm.store.balance(agentAccount("writer-1")), 30);
    } finally {
      await t.cleanup();
    }
  });

  test("a price the gateway's agent cannot pay is refused at once, and nothing is held or sent", async () => {
    const t = createTestSwarm({ roles: { lead: {}, writer: { tasks: ["write"] } }, defaults });
    try {
      const { swarm } = t;
      swarm.agent({ id: "gate", role: "lead", budget: { initial: 30, minBalance: 0 } });
      let ran = 0;
      swarm.agent({ id: "writer-1", role: "writer" }).handle("write", () => {
        ran++;
      });
      await swarm.start();
      const door = new FrontDoor(
        swarm,
        { swarm: "t", privileged: {} } as unknown as SwarmConfig,
        gateway,
      );
      await assert.rejects(
        door.start({ name: "ide", via: "mcp" }, door.find("writer.write"), {}),
        InsufficientCreditsError,
      );
      assert.equal(await swarm.store.balance(agentAccount("gate")), 30);
      assert.equal(ran, 0);
    } finally {
      await t.cleanup();
    }
  });
});
