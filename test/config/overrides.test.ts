import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { applyOverrides, parseSwarmConfig } from "../../src/config/index.js";
import { MINIMAL } from "./helpers.js";

const baseDir = resolve("/srv/demo");
const load = (extra = "") => parseSwarmConfig(`${MINIMAL}${extra}`, { baseDir, env: {} });

describe("applyOverrides", () => {
  test("a new data folder takes the default store and keys with it", () => {
    const config = applyOverrides(load(), { dataDir: "/runs/2" });
    assert.equal(config.dataDir, resolve("/runs/2"));
    assert.equal(config.store, `sqlite:${join(resolve("/runs/2"), "demo.db")}`);
    assert.equal(config.keysDir, join(resolve("/runs/2"), "keys"));
  });

  test("so does a dataDir set in the file", () => {
    const config = applyOverrides(load("dataDir: ./state\n"), { dataDir: "/runs/3" });
    assert.equal(config.store, `sqlite:${join(resolve("/runs/3"), "demo.db")}`);
  });

  test("a store and keysDir the file places elsewhere stay where written", () => {
    const config = applyOverrides(load("store: sqlite:./shared.db\nkeysDir: ./keys\n"), {
      dataDir: "/runs/4",
    });
    assert.equal(config.store, `sqlite:${join(baseDir, "shared.db")}`);
    assert.equal(config.keysDir, join(baseDir, "keys"));
    const pg = applyOverrides(load("store: postgres://db/app?schema=x\n"), { dataDir: "/runs/4" });
    assert.equal(pg.store, "postgres://db/app?schema=x");
  });

  test("a relative data folder is relative to the working directory, not the swarm file", () => {
    assert.equal(applyOverrides(load(), { dataDir: "run" }).dataDir, resolve("run"));
  });

  test("--store and --transport replace the file's; --store wins over the moved default", () => {
    const config = applyOverrides(load(), {
      dataDir: "/runs/5",
      store: "sqlite:/elsewhere.db",
      transport: "nats://127.0.0.1:4222",
    });
    assert.equal(config.store, "sqlite:/elsewhere.db");
    assert.equal(config.transport, "nats://127.0.0.1:4222");
    assert.equal(config.keysDir, join(resolve("/runs/5"), "keys"));
  });

  test("no overrides: the config as loaded", () => {
    assert.deepEqual(applyOverrides(load(), {}), load());
  });
});

describe("a store written without a scheme", () => {
  test("the schema error says to write sqlite:<path>", async () => {
    const { issuesOf, issueAt } = await import("./helpers.js");
    const issue = issueAt(issuesOf(`${MINIMAL}store: ./x.db\n`), "store");
    assert.match(issue.message, /for a SQLite file write sqlite:\.\/x\.db/);
  });
});
