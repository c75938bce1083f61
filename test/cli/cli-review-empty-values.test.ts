/**
 * An empty path or URL (`--store "$UNSET"`) is a usage error naming the
 * option, not the option left out: left out, the reading commands fell back
 * to ./swarm.yaml's store or the demo's and answered about another store,
 * doctor checked nothing and said ok, and keys gen wrote into the current folder.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openStore } from "../../src/store/open-store.js";
import { reviewSwarmYaml, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-review-empty-"));
after(() => rmSync(work, { recursive: true, force: true }));

describe("an empty --store, --swarm, --data-dir or --dir is refused (exit 2)", () => {
  // A folder whose ./swarm.yaml names a store that exists: the default an empty option fell back to.
  before(async () => {
    writeFileSync(
      join(work, "swarm.yaml"),
      reviewSwarmYaml({
        name: "local",
        head: "store: sqlite:./local.db\n",
        workload: { tasks: 1 },
      }),
    );
    const store = await openStore(`sqlite:${join(work, "local.db")}`, { create: true });
    await store.close();
  });

  for (const [args, flag] of [
    [["ledger", "show", "--store="], "--store"],
    [["results", "--json", "--swarm="], "--swarm"],
    [["audit", "verify", "--data-dir="], "--data-dir"],
    [["dead-letters", "list", "--store="], "--store"],
  ] as const) {
    test(`${args.join(" ")}: exit 2 naming ${flag}, no default store read`, async () => {
      const r = await run([...args], work);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.ok(r.stderr.includes(flag), r.stderr);
      assert.doesNotMatch(r.stderr, /reading store/);
      assert.equal(r.stdout, "");
    });
  }

  test("doctor --store= / --swarm=: exit 2, not ok after checking nothing", async () => {
    for (const flag of ["--store", "--swarm"]) {
      const r = await run(["doctor", `${flag}=`], work);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.ok(r.stderr.includes(flag), r.stderr);
    }
  });

  test("keys gen a --dir=: exit 2, no key written in the current folder", async () => {
    const dir = mkdtempSync(join(work, "keys-"));
    const r = await run(["keys", "gen", "a", "--dir="], dir);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.ok(r.stderr.includes("--dir"), r.stderr);
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(existsSync(join(dir, "a.key")), false);
  });
});
