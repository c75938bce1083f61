/**
 * A CONCLAVE_VERIFY_THREAD value that is not a choice is refused when the
 * swarm is built. It used to throw on the first signature checked off the
 * event loop's thread (that message refused with the ConfigError), and then
 * be ignored for the rest of the process's life.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("CONCLAVE_VERIFY_THREAD=maybe is refused at createSwarm, naming the choices", () => {
  const before = process.env["CONCLAVE_VERIFY_THREAD"];
  process.env["CONCLAVE_VERIFY_THREAD"] = "maybe";
  try {
    assert.throws(
      () => createTestSwarm({ roles: { ops: {} } }),
      (e: unknown) => e instanceof ConfigError && /"on".*"off"/.test(e.message),
    );
  } finally {
    if (before === undefined) delete process.env["CONCLAVE_VERIFY_THREAD"];
    else process.env["CONCLAVE_VERIFY_THREAD"] = before;
  }
});
