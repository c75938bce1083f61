/**
 * Mistakes on the command line are usage errors (exit 2) that name the flag
 * or argument and say what to do, caught before anything is created or
 * written; and commands that only watch or read never create a store.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { agents, finish, root, run, start } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-usage-"));
after(() => rmSync(work, { recursive: true, force: true }));
const STACK = /^\s+at .+:\d+:\d+\)?$/m;

/** A fresh folder holding a swarm file with its store left to default (`<folder>/.conclave`). */
function swarmFolder(name: string, more = ""): string {
  const dir = mkdtempSync(join(work, `${name}-`));
  writeFileSync(
    join(dir, "swarm.yaml"),
    `swarm: ${name}
module: ${agents}
roles: { worker: { tasks: [t] } }
agents: [{ id: w-1, role: worker }]
${more}`,
  );
  return dir;
}

describe("usage errors", () => {
  test("--log-level with an unknown level exits 2 naming the levels, before a store is created", async () => {
    const dir = mkdtempSync(join(work, "loglevel-"));
    const swarm = join(root, "examples", "review-swarm", "swarm.yaml");
    const r = await run(["--log-level", "bogus", "up", swarm, "--data-dir", "dd"], dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /'--log-level <level>' argument 'bogus' is invalid/);
    assert.match(r.stderr, /fatal, error, warn, info, debug, trace, silent/);
    assert.doesNotMatch(r.stderr, STACK);
    assert.equal(existsSync(join(dir, "dd")), false, "nothing was created");
  });

  test("revoke refuses an agent id that is not an id, exit 2, before the store is touched", async () => {
    const dir = swarmFolder("revoke-id");
    const r = await run(
      ["revoke", "no such agent!!", "--swarm", "swarm.yaml", "--operator-key", "op.key"],
      dir,
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /"no such agent!!" is not an agent id: use 1-128 characters/);
    assert.equal(existsSync(join(dir, ".conclave")), false);
  });

  test("keys gen with one id taken writes nothing, exits 2 and says to pass --force", async () => {
    const dir = mkdtempSync(join(work, "keys-"));
    assert.equal((await run(["keys", "gen", "taken", "--dir", "k"], dir)).code, 0);
    const r = await run(["keys", "gen", "fresh", "taken", "--dir", "k"], dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /taken\.key already exists; nothing was written/);
    assert.match(r.stderr, /pass --force/);
    assert.equal(r.stdout, "");
    assert.deepEqual(readdirSync(join(dir, "k")), ["taken.key"]);
    const twice = await run(["keys", "gen", "a", "a", "--dir", "k"], dir);
    assert.equal(twice.code, 2, twice.stderr);
    assert.match(twice.stderr, /a named twice/);
    assert.deepEqual(readdirSync(join(dir, "k")), ["taken.key"]);
    const forced = await run(["keys", "gen", "fresh", "taken", "--dir", "k", "--force"], dir);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(readdirSync(join(dir, "k")).sort(), ["fresh.key", "taken.key"]);
  });

  test("events --type with a malformed pattern exits 2 naming --type", async () => {
    const dir = swarmFolder("events-type");
    const r = await run(
      ["events", "--swarm", "swarm.yaml", "--transport", "nats://127.0.0.1:1", "--type", "a b"],
      dir,
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /option '--type <pattern>' argument 'a b' is invalid/);
    assert.match(r.stderr, /e\.g\. llm\.call or agent\.\*/);
  });

  test("events --seconds with --follow exits 2: the two contradict (it used to follow for ever)", async () => {
    const dir = swarmFolder("events-follow");
    const r = await run(
      [
        "events",
        "--swarm",
        "swarm.yaml",
        "--transport",
        "nats://127.0.0.1:1",
        "--follow",
        "--seconds",
        "1",
      ],
      dir,
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /option '--seconds <n>' cannot be used with option '--follow'/);
  });

  test("up --dashboard-host or --metrics-host without its server exits 2 (it was ignored without a word)", async () => {
    const dir = swarmFolder("host-alone");
    for (const [flag, needs] of [
      ["--dashboard-host", "--dashboard"],
      ["--metrics-host", "--metrics"],
    ] as const) {
      const r = await run(["up", "swarm.yaml", flag, "127.0.0.1"], dir);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${flag} binds .*: add ${needs}`));
      assert.equal(existsSync(join(dir, ".conclave")), false, "nothing was created");
    }
  });

  test("up --metrics-host on an address not of this machine names --metrics-host, not the port", async () => {
    const dir = swarmFolder("metrics-host");
    const r = await run(["up", "swarm.yaml", "--metrics", "0", "--metrics-host", "192.0.2.1"], dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /192\.0\.2\.1 is not an address of this machine; pick another --metrics-host/,
    );
    assert.doesNotMatch(r.stderr, STACK);
  });

  test("top --transport is checked as the other --transport options are", async () => {
    const dir = swarmFolder("top-transport");
    const r = await run(
      ["top", "--swarm", "swarm.yaml", "--transport", "nats:/oops", "--once"],
      dir,
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /option '--transport <url>' argument 'nats:\/oops' is invalid/);
  });
});

describe("observers never create a store", () => {
  for (const [command, args] of [
    ["top", ["top", "--once", "--interval", "1"]],
    ["dashboard", ["dashboard", "--port", "0"]],
  ] as const) {
    test(`${command} with no store yet: "no conclave store at …" (exit 2), and no folder made`, async () => {
      const dir = swarmFolder(`observe-${command}`);
      const child = start(
        [...args, "--swarm", "swarm.yaml", "--transport", "nats://127.0.0.1:1"],
        dir,
      );
      const r = await finish(child);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /no conclave store at sqlite:.*observe-.*\.db: there is no such file/);
      assert.equal(existsSync(join(dir, ".conclave")), false, "no store folder was created");
    });
  }
});

test("report roi on a store without ensemble decisions says why it exits 1", async () => {
  const dir = swarmFolder("roi-empty");
  const funded = await run(["ledger", "fund", "w-1", "1", "--swarm", "swarm.yaml"], dir);
  assert.equal(funded.code, 0, funded.stderr);
  const r = await run(["report", "roi", "--swarm", "swarm.yaml"], dir);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /no ensemble decision in this store/);
  assert.match(r.stderr, /ensembles: section/);
});
