/**
 * The `TaskClaimStore` part of the store conformance suite: of concurrent
 * claims of one task id by different owners on different handles exactly
 * one holds it; a claim expires, is extended and released only by its owner;
 * a prune deletes only what expired.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TaskClaimStore } from "../../../store/port.js";
import {
  assertClosedHandleRefuses,
  type Closable,
  describeStorePart,
  id,
  type StorePartOptions,
} from "./backend.js";

/** The part of the store conformance suite for the `TaskClaimStore` (one live run of a task at a time); see the port's contract. */
export function runTaskClaimStoreConformance(
  options: StorePartOptions<TaskClaimStore & Closable>,
): void {
  describeStorePart("task claim store", options, (fixture) => {
    test("of concurrent claims by different owners on every handle, exactly one holds the task", async () => {
      const other = await fixture.reopen();
      try {
        const task = `t-${id()}`;
        const times = { now: 1_000, expiresAt: 31_000 };
        const claims = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 === 0 ? fixture.store : other).claimTask(task, `owner-${i}`, times),
          ),
        );
        const holders = claims.flatMap((c, i) => (c.claimed ? [i] : []));
        assert.equal(holders.length, 1, "exactly one claim is granted");
        const holder = `owner-${holders[0]}`;
        for (const claim of claims) {
          if (!claim.claimed)
            assert.deepEqual(claim, { claimed: false, owner: holder, expiresAt: 31_000 });
        }
        // Its owner claims it again (a repeat extends it); another still cannot.
        assert.deepEqual(await other.claimTask(task, holder, { now: 2_000, expiresAt: 40_000 }), {
          claimed: true,
        });
        assert.deepEqual(
          await fixture.store.claimTask(task, "late", { now: 39_999, expiresAt: 70_000 }),
          {
            claimed: false,
            owner: holder,
            expiresAt: 40_000,
          },
        );
      } finally {
        await other.close();
      }
    });

    test("a claim that expired is taken by the next owner; one extended is not", async () => {
      const [a, b] = [`a-${id()}`, `b-${id()}`];
      const store = fixture.store;
      assert.deepEqual(await store.claimTask(a, "dead", { now: 0, expiresAt: 100 }), {
        claimed: true,
      });
      assert.deepEqual(await store.claimTask(b, "live", { now: 0, expiresAt: 100 }), {
        claimed: true,
      });
      assert.equal(
        await store.extendTaskClaims("live", [b, a], 500),
        1,
        "only its own claim moves",
      );
      assert.deepEqual(await store.claimTask(a, "next", { now: 100, expiresAt: 200 }), {
        claimed: true,
      });
      assert.deepEqual(await store.claimTask(b, "next", { now: 100, expiresAt: 200 }), {
        claimed: false,
        owner: "live",
        expiresAt: 500,
      });
    });

    test("claims of one turn, some granted and some refused, each get their own answer", async () => {
      const ids = Array.from({ length: 30 }, () => `batch-${id()}`);
      const held = ids.filter((_, i) => i % 3 === 0);
      for (const task of held)
        await fixture.store.claimTask(task, "first", { now: 0, expiresAt: 10_000 });
      const claims = await Promise.all(
        ids.map((task) => fixture.store.claimTask(task, "second", { now: 5, expiresAt: 9_000 })),
      );
      claims.forEach((claim, i) => {
        if (i % 3 === 0)
          assert.deepEqual(claim, { claimed: false, owner: "first", expiresAt: 10_000 });
        else assert.deepEqual(claim, { claimed: true });
      });
    });

    test("a claim is released only by its owner, and a prune deletes only expired claims", async () => {
      const [task, young] = [`r-${id()}`, `y-${id()}`];
      const store = fixture.store;
      await store.claimTask(task, "owner", { now: 0, expiresAt: 1_000 });
      await store.claimTask(young, "owner", { now: 0, expiresAt: 9_000_000_000_000 });
      assert.equal(await store.releaseTaskClaim(task, "intruder"), false);
      assert.deepEqual(await store.claimTask(task, "other", { now: 10, expiresAt: 20 }), {
        claimed: false,
        owner: "owner",
        expiresAt: 1_000,
      });
      assert.equal(await store.releaseTaskClaim(task, "owner"), true);
      assert.deepEqual(await store.claimTask(task, "other", { now: 10, expiresAt: 20 }), {
        claimed: true,
      });
      assert.ok((await store.pruneTaskClaims(5_000)) >= 1);
      assert.deepEqual(await store.claimTask(task, "third", { now: 0, expiresAt: 20 }), {
        claimed: true,
      });
      assert.deepEqual(await store.claimTask(young, "third", { now: 5_000, expiresAt: 6_000 }), {
        claimed: false,
        owner: "owner",
        expiresAt: 9_000_000_000_000,
      });
    });

    test("a closed handle refuses task claims", async () => {
      await assertClosedHandleRefuses(fixture, {
        claimTask: (s) => s.claimTask(`c-${id()}`, "o", { now: 0, expiresAt: 1 }),
        extendTaskClaims: (s) => s.extendTaskClaims("o", ["x"], 1),
        releaseTaskClaim: (s) => s.releaseTaskClaim("x", "o"),
        pruneTaskClaims: (s) => s.pruneTaskClaims(1),
      });
    });
  });
}
