/**
 * When the gateway opens while the store cannot be read, taking up the
 * escrows an earlier run left open is tried again at the settling pace
 * (`pollMs`), not in a tight loop that hammers the store (and the CPU)
 * until it answers.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { GatewayEscrows } from "../../src/interop/gateway-escrows.js";
import type { Swarm } from "../../src/runtime/swarm.js";

describe("the gateway's escrows, opened while the store is unreachable", () => {
  test("retry taking up open escrows every pollMs, then recover once the store answers", async () => {
    let reads = 0;
    let down = true;
    const swarm = {
      store: {
        async balances() {
          reads++;
          if (down) throw new Error("connection refused");
          return [];
        },
      },
      async outcome() {
        return undefined;
      },
      budgets: { has: () => true, async settle() {} },
    } as unknown as Swarm;
    const escrows = new GatewayEscrows(swarm, "gate", 100);
    try {
      await sleep(450);
      assert.ok(reads >= 2, `tried again (${reads} reads)`);
      assert.ok(reads <= 6, `${reads} reads of the store in 450 ms at a 100 ms pace`);
      down = false;
      await sleep(250);
      const after = reads;
      await sleep(300);
      assert.equal(reads, after, "once recovered (and nothing open), the store is left alone");
    } finally {
      escrows.close();
    }
  });
});
