/**
 * The `RegistryStore` part of the store conformance suite: cards are kept
 * by id, the newest save wins from any handle, and bad cards are refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreError } from "../../../errors/index.js";
import type { RegistryStore } from "../../../store/port.js";
import {
  assertClosedHandleRefuses,
  type Closable,
  describeStorePart,
  id,
  type StorePartOptions,
} from "./backend.js";

/** The part of the store conformance suite for the `RegistryStore` (agent cards); see the port's contract. */
export function runRegistryStoreConformance(
  options: StorePartOptions<RegistryStore & Closable>,
): void {
  describeStorePart("registry store", options, (fixture) => {
    test("registry cards upsert by id; an older save never replaces a newer one", async () => {
      const agent = `agent-${id()}`;
      assert.deepEqual(
        await fixture.store.saveAgentCard({ id: agent, role: "dev", n: 1 }, { updatedAt: 10 }),
        { saved: true },
      );
      assert.deepEqual(
        await fixture.store.saveAgentCard({ id: agent, role: "dev", n: 2 }, { updatedAt: 20 }),
        { saved: true },
      );
      assert.deepEqual(
        await fixture.store.saveAgentCard({ id: agent, role: "dev", n: 0 }, { updatedAt: 15 }),
        { saved: false },
      );
      const other = await fixture.reopen();
      try {
        const cards = (await other.agentCards()).filter((c) => c.id === agent);
        assert.deepEqual(cards, [
          { id: agent, card: { id: agent, role: "dev", n: 2 }, updatedAt: 20 },
        ]);
      } finally {
        await other.close();
      }
      await fixture.store.removeAgentCard(agent);
      await fixture.store.removeAgentCard(agent);
      assert.equal((await fixture.store.agentCards()).filter((c) => c.id === agent).length, 0);
      await assert.rejects(fixture.store.saveAgentCard({ id: "" }), StoreError);
      await assert.rejects(fixture.store.saveAgentCard({ id: agent, n: 1n }), StoreError);
      assert.equal((await fixture.store.agentCards()).filter((c) => c.id === agent).length, 0);
    });

    test("a closed handle refuses every registry call with ClosedError", () =>
      assertClosedHandleRefuses(fixture, {
        saveAgentCard: (s) => s.saveAgentCard({ id: "a" }),
        agentCards: (s) => s.agentCards(),
        removeAgentCard: (s) => s.removeAgentCard("a"),
      }));
  });
}
