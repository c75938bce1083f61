/**
 * The `MetaStore` part of the store conformance suite: the last value set
 * is read back, from a reopened store too.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { MetaStore } from "../../../store/port.js";
import {
  assertClosedHandleRefuses,
  type Closable,
  describeStorePart,
  type StorePartOptions,
} from "./backend.js";

/** The part of the store conformance suite for the `MetaStore` (the store's own settings); see the port's contract. */
export function runMetaStoreConformance(options: StorePartOptions<MetaStore & Closable>): void {
  describeStorePart("meta store", options, (fixture) => {
    test("meta values round-trip and survive a reopen", async () => {
      await fixture.store.setMeta("run", "r1");
      await fixture.store.setMeta("run", "r2");
      assert.equal(await fixture.store.getMeta("run"), "r2");
      assert.equal(await fixture.store.getMeta("missing"), undefined);
      await fixture.store.close();
      fixture.store = await fixture.reopen();
      assert.equal(await fixture.store.getMeta("run"), "r2");
    });

    test("a closed handle refuses every meta call with ClosedError", () =>
      assertClosedHandleRefuses(fixture, {
        getMeta: (s) => s.getMeta("run"),
        setMeta: (s) => s.setMeta("run", "r3"),
      }));
  });
}
