/**
 * `createSwarm` called from JavaScript (no type checker) with a part
 * missing, or a key provider that returns a promise: a `ConfigError` that
 * says what to pass, not a TypeError from deep inside the node.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { generateAgentKeyPair } from "../../src/identity/index.js";
import { createSwarm, type SwarmConfig } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";

const loose = (config: Record<string, unknown>) => config as unknown as SwarmConfig;

test("a swarm config without transport, store or roles names what is missing", () => {
  const store = openSqliteStore({ path: ":memory:" });
  assert.throws(
    () => createSwarm(loose({ name: "x", store, keys: generateAgentKeyPair, roles: {} })),
    (e: unknown) => e instanceof ConfigError && /transport missing/.test(e.message),
  );
  assert.throws(
    () => createSwarm(loose({ name: "x", keys: generateAgentKeyPair })),
    (e: unknown) => e instanceof ConfigError && /transport, store, roles missing/.test(e.message),
  );
  assert.throws(
    () =>
      createSwarm(
        loose({ name: "x", transport: createMemoryTransport(), store, roles: { w: {} } }),
      ),
    (e: unknown) => e instanceof ConfigError && /keys missing/.test(e.message),
  );
  assert.throws(
    () => createSwarm(undefined as unknown as SwarmConfig),
    (e: unknown) => e instanceof ConfigError && /config object/.test(e.message),
  );
});

test("a key provider that returns a promise is refused when the agent is added", async () => {
  const swarm = createSwarm({
    name: "x",
    transport: createMemoryTransport(),
    store: openSqliteStore({ path: ":memory:" }),
    keys: (async () => generateAgentKeyPair()) as never,
    roles: { w: {} },
  });
  try {
    assert.throws(
      () => swarm.agent({ id: "w-1", role: "w" }),
      (e: unknown) => e instanceof ConfigError && /must return its key pair/.test(e.message),
    );
  } finally {
    await swarm.close();
  }
});
