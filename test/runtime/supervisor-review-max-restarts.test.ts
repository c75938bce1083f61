/**
 * `maxRestartsPerMinute` is checked when the swarm is created, with a message
 * naming the setting: not at start, as the supervisor's own `maxRestarts`
 * (a name the caller never wrote), and not silently per agent added later.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { createSwarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { ephemeralKeys } from "../../src/testkit/index.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";

test("a maxRestartsPerMinute that is not a whole number ≥ 0 is refused at createSwarm, by name", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-review-"));
  const transport = createMemoryTransport({ journalPath: join(dir, "journal.db") });
  const store = openSqliteStore({ path: join(dir, "store.db") });
  try {
    for (const maxRestartsPerMinute of [-1, 2.5, Number.NaN]) {
      assert.throws(
        () =>
          createSwarm({
            name: "test",
            keys: ephemeralKeys(),
            transport,
            store,
            roles: { worker: { tasks: ["work"] } },
            maxRestartsPerMinute,
          }),
        (e: unknown) =>
          e instanceof ConfigError &&
          /maxRestartsPerMinute must be a whole number ≥ 0/.test(e.message) &&
          e.message.includes(String(maxRestartsPerMinute)),
        String(maxRestartsPerMinute),
      );
    }
  } finally {
    await transport.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
