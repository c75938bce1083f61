import assert from "node:assert/strict";
import { test } from "node:test";
import { ClosedError, StoreError } from "../../src/errors/index.js";
import { isStoreUnreachable } from "../../src/store/unreachable.js";

const coded = (message: string, code: string) => Object.assign(new Error(message), { code });
const store = (cause: unknown) =>
  new StoreError("isCompleted failed on the Postgres store", { cause });

test("a StoreError caused by a lost or refused connection is an unreachable store", () => {
  assert.ok(isStoreUnreachable(store(coded("read ECONNRESET", "ECONNRESET"))));
  assert.ok(
    isStoreUnreachable(store(coded("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"))),
  );
  assert.ok(isStoreUnreachable(store(new Error("Connection terminated unexpectedly"))));
  assert.ok(
    isStoreUnreachable(
      store(coded("terminating connection due to administrator command", "57P01")),
    ),
  );
  assert.ok(isStoreUnreachable(store(coded("the database system is starting up", "57P03"))));
  assert.ok(isStoreUnreachable(store(coded("connection failure", "08006"))));
  const refusedTwice = new AggregateError([
    coded("connect ECONNREFUSED ::1:5432", "ECONNREFUSED"),
    coded("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"),
  ]);
  assert.ok(isStoreUnreachable(store(refusedTwice)));
  // Wrapped by a handler that kept the cause.
  assert.ok(
    isStoreUnreachable(new Error("plan failed", { cause: store(coded("x", "ECONNRESET")) })),
  );
});

test("anything else is not: the store answered, closed, or the connection failure is not the store's", () => {
  assert.equal(isStoreUnreachable(store(coded("duplicate key value", "23505"))), false);
  assert.equal(isStoreUnreachable(store(coded("database or disk is full", "SQLITE_FULL"))), false);
  assert.equal(isStoreUnreachable(new StoreError("ledger value 1.5 is not exact")), false);
  assert.equal(isStoreUnreachable(new ClosedError("the store is closed")), false);
  assert.equal(
    isStoreUnreachable(coded("read ECONNRESET", "ECONNRESET")),
    false,
    "not a StoreError",
  );
  assert.equal(isStoreUnreachable("ECONNRESET"), false);
});
