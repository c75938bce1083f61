/**
 * The lifecycle part of the store conformance suite, for a whole `Store`:
 * `close()` is idempotent and refuses later calls, the schema version is
 * reported, reopening at the current version migrates nothing, and a store
 * written by a newer conclave is refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreError } from "../../../errors/index.js";
import type { Store } from "../../../store/port.js";
import { assertClosedHandleRefuses, describeStorePart, type StorePartOptions } from "./backend.js";

/** What the lifecycle part needs of a store. */
export type StoreLifecycle = Pick<Store, "kind" | "schemaStatus" | "close">;

/** The part of the store conformance suite for the store lifecycle (kind, schema status, close); see the port's contract. */
export function runStoreLifecycleConformance(options: StorePartOptions<StoreLifecycle>): void {
  describeStorePart("store lifecycle", options, (fixture) => {
    test("close is idempotent; a closed handle refuses schemaStatus with ClosedError", () =>
      assertClosedHandleRefuses(fixture, { schemaStatus: (s) => s.schemaStatus() }));
    test("reopening a store at the current schema version changes nothing", async () => {
      const status = await fixture.store.schemaStatus();
      assert.ok(status.known.length > 0);
      assert.deepEqual(
        status.applied.map((m) => m.name),
        status.known,
        "a new store is at the latest version",
      );
      const other = await fixture.reopen();
      try {
        assert.deepEqual(await other.schemaStatus(), status, "no migration ran again");
      } finally {
        await other.close();
      }
    });

    test("a store written by a newer conclave is refused with a StoreError saying to upgrade", async (t) => {
      const simulateNewerSchema = fixture.simulateNewerSchema;
      if (!simulateNewerSchema) {
        t.skip("the adapter's test gives no simulateNewerSchema");
        return;
      }
      const undo = await simulateNewerSchema();
      try {
        await assert.rejects(
          fixture.reopen(),
          (error: unknown) =>
            error instanceof StoreError &&
            /newer conclave/.test(error.message) &&
            /upgrade/.test(error.message),
        );
      } finally {
        await undo();
      }
      const other = await fixture.reopen();
      await other.close();
    });
  });
}
