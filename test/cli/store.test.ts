import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { openStore } from "../../src/store/open-store.js";
import { agents, reviewSwarmYaml, run, summaryOf } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-cli-store-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** A small review swarm in `dir`/`file`; `head` lines go after the name (e.g. a store). */
function writeSwarm(dir: string, name: string, head = "", file = `${name}.yaml`): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  writeFileSync(path, reviewSwarmYaml({ name, head, workload: { tasks: 12, impossibleEvery: 0 } }));
  return path;
}

describe("reading commands never create a store", () => {
  for (const command of [
    ["ledger", "show"],
    ["audit", "verify"],
  ]) {
    test(`${command.join(" ")} on a missing SQLite file: exit 2 naming it, no file made`, async () => {
      const folder = join(work, `typo-${command[0]}`);
      const path = join(folder, "typo.db");
      const r = await run([...command, "--store", `sqlite:${path}`], work);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.ok(r.stderr.includes(`no conclave store at sqlite:${path}`), r.stderr);
      assert.equal(existsSync(path), false, "the store file was created");
      assert.equal(existsSync(folder), false, "its folder was created");
    });
  }

  test("ledger show --swarm of a swarm that never ran: exit 2, nothing created", async () => {
    const dir = join(work, "never-ran");
    const file = writeSwarm(dir, "never");
    const r = await run(["ledger", "show", "--swarm", file], work);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /no conclave store at sqlite:.*never\.db/);
    assert.equal(existsSync(join(dir, ".conclave")), false);
  });

  test("a store written without a scheme says to write sqlite:<path>", async () => {
    const r = await run(["ledger", "show", "--store", "./x.db"], work);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /write sqlite:\.\/x\.db/);
  });
});

describe("ledger show and audit verify without arguments", () => {
  const here = join(work, "defaults");

  test("after conclave demo: they read the demo's store and say so on stderr", async () => {
    mkdirSync(here, { recursive: true });
    const demo = await run(["demo", "--tasks", "10", "--json"], here);
    assert.equal(demo.code, 0, demo.stderr);
    const demoStore = join(here, ".conclave", "demo", "review-swarm.db");
    const announced = `reading store sqlite:${demoStore} (from the last conclave demo here)`;

    const ledger = await run(["ledger", "show", "--json"], here);
    assert.equal(ledger.code, 0, ledger.stdout + ledger.stderr);
    const report = JSON.parse(ledger.stdout) as { consistent: boolean; accounts: unknown[] };
    assert.equal(report.consistent, true);
    assert.ok(report.accounts.length > 0, "the demo's accounts");
    assert.ok(ledger.stderr.includes(announced), ledger.stderr);

    const audit = await run(["audit", "verify", "--json"], here);
    assert.equal(audit.code, 0, audit.stdout + audit.stderr);
    assert.equal((JSON.parse(audit.stdout) as { ok: boolean }).ok, true);
    assert.ok(audit.stderr.includes(announced), audit.stderr);
  });

  test("./swarm.yaml wins over the demo when both are here", async () => {
    const file = writeSwarm(here, "local", "", "swarm.yaml");
    const up = await run(["up", file, "--json"], here);
    assert.equal(up.code, 0, up.stderr);
    const r = await run(["ledger", "show"], here);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(
      r.stderr.includes(
        `reading store sqlite:${join(here, ".conclave", "local.db")} (from ./swarm.yaml)`,
      ),
      r.stderr,
    );
  });

  test("--help states the rule", async () => {
    const r = await run(["ledger", "show", "--help"], work);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /\.\/swarm\.yaml/);
    assert.match(r.stdout, /conclave demo/);
  });
});

describe("a run's durable state stays together", () => {
  test("up --data-dir puts the default store beside the journal and keys", async () => {
    const dir = join(work, "moved");
    const file = writeSwarm(dir, "moved");
    for (const data of ["d1", "d2"]) {
      const r = await run(["up", file, "--json", "--data-dir", join(dir, data)], work);
      assert.equal(r.code, 0, r.stderr);
      const s = summaryOf(r.stdout);
      assert.equal(s.tasks.submitted, 12);
      assert.equal(s.tasks.duplicateEffects, 0);
      for (const state of ["moved.db", "moved.journal.db", "keys"]) {
        assert.ok(existsSync(join(dir, data, state)), `${state} is in ${data}`);
      }
    }
    assert.equal(existsSync(join(dir, ".conclave")), false, "nothing in the file's dataDir");
    const ledger = await run(
      ["ledger", "show", "--swarm", file, "--data-dir", join(dir, "d1"), "--json"],
      work,
    );
    assert.equal(ledger.code, 0, ledger.stderr);
  });

  test("a journal and a store of different runs are refused, naming both", async () => {
    const dir = join(work, "shared");
    const file = writeSwarm(dir, "shared", "store: sqlite:./shared.db\n");
    const first = await run(["up", file, "--json", "--data-dir", join(dir, "e1")], work);
    assert.equal(first.code, 0, first.stderr);

    const other = await run(["up", file, "--json", "--data-dir", join(dir, "e2")], work);
    assert.equal(other.code, 2, other.stdout + other.stderr);
    assert.ok(
      other.stderr.includes(
        `the queue journal ${join(dir, "e2", "shared.journal.db")} and the store sqlite:${join(dir, "shared.db")} do not belong to the same run`,
      ),
      other.stderr,
    );
    assert.match(other.stderr, /--data-dir/);

    const again = await run(["up", file, "--json", "--data-dir", join(dir, "e1")], work);
    assert.equal(again.code, 0, again.stderr);
    const s = summaryOf(again.stdout);
    assert.equal(s.tasks.submitted, 12, "the matching data folder resumes the same run");
    assert.equal(s.tasks.duplicateEffects, 0);
  });
});

describe("ledger show and fund on a swarm with budgets", () => {
  const dir = join(work, "budgets");
  const file = join(dir, "swarm.yaml");

  test("show lists the halted agent with its minimum; --json leaves out empty escrows unless --all", async () => {
    mkdirSync(dir, { recursive: true });
    // dev-1 pays 40 credits for its one model call and earns the task's escrow of 1:
    // 50 - 40 + 1 is below its minimum of 30.
    writeFileSync(
      file,
      `swarm: budgets
module: ${agents}
defaults: { ackWaitMs: 2000, maxDeliver: 3, concurrency: 2, backoff: { baseMs: 10, maxMs: 50 }, heartbeatMs: 200 }
roles:
  architect: { tasks: [redo] }
  developer: { tasks: [code] }
  sentinel: { tasks: [scan] }
  auditor: { tasks: [audit] }
agents:
  - { id: architect, role: architect, budget: { initial: 1000 } }
  - { id: dev-1, role: developer, budget: { initial: 50, minBalance: 30 } }
  - { id: sentinel, role: sentinel }
  - { id: auditor, role: auditor }
prices:
  version: t-1
  creditsPerUsd: 1000000
  models:
    sim-small: { input: 0.05, output: 0.2 }
workload: { tasks: 1, impossibleEvery: 0, workMs: 1, budget: 1 }
`,
    );
    const up = await run(["up", file, "--json", "--timeout", "60"], dir);
    assert.equal(up.code, 0, up.stderr);

    const text = await run(["ledger", "show", "--swarm", file], dir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /halted agents \(below their minimum balance/);
    assert.match(text.stdout, /dev-1\s+11 < minimum 30/);

    type Report = {
      accounts: { account: string; balance: number }[];
      halted: { agent: string; balance: number; minBalance: number }[] | null;
    };
    const json = JSON.parse(
      (await run(["ledger", "show", "--swarm", file, "--json"], dir)).stdout,
    ) as Report;
    assert.deepEqual(json.halted, [{ agent: "dev-1", balance: 11, minBalance: 30 }]);
    assert.ok(
      json.accounts.every((a) => !a.account.startsWith("escrow:") || a.balance !== 0),
      JSON.stringify(json.accounts),
    );
    const all = JSON.parse(
      (await run(["ledger", "show", "--swarm", file, "--json", "--all"], dir)).stdout,
    ) as Report;
    assert.ok(
      all.accounts.some((a) => a.account.startsWith("escrow:") && a.balance === 0),
      "the settled delegation's escrow is listed with --all",
    );
    // Without the swarm file the minimums are unknown, and it says so.
    const bare = JSON.parse(
      (
        await run(
          ["ledger", "show", "--store", `sqlite:${join(dir, ".conclave", "budgets.db")}`, "--json"],
          dir,
        )
      ).stdout,
    ) as Report;
    assert.equal(bare.halted, null);
  });

  test("fund refuses what is not an agent of the swarm, and bad amounts, with exit 2", async () => {
    for (const [args, message] of [
      [["world", "5"], /"world" is not an agent id/],
      [["escrow:x", "5"], /"escrow:x" is not an agent id/],
      [
        ["dev-9", "5"],
        /"dev-9" is not an agent of swarm budgets; its agents are: architect, dev-1/,
      ],
      [["dev-1", "1.5"], /invalid amount "1\.5"/],
      [["dev-1", "0"], /invalid amount "0"/],
    ] as const) {
      const r = await run(["ledger", "fund", ...args, "--swarm", file], dir);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    // A bare --store must exist: nothing checks the id there, and a typo would
    // become a new store holding the credits.
    const typo = join(dir, "typo.db");
    const stray = await run(["ledger", "fund", "dev-1", "100", "--store", `sqlite:${typo}`], dir);
    assert.equal(stray.code, 2, stray.stderr);
    assert.match(stray.stderr, /no conclave store at/);
    assert.equal(existsSync(typo), false, "no store created");
    const funded = await run(["ledger", "fund", "dev-1", "100", "--swarm", file, "--json"], dir);
    assert.equal(funded.code, 0, funded.stderr);
    assert.equal((JSON.parse(funded.stdout) as { balance: number }).balance, 111);
    const after = JSON.parse(
      (await run(["ledger", "show", "--swarm", file, "--json"], dir)).stdout,
    ) as { halted: unknown[] };
    assert.deepEqual(after.halted, [], "funded above its minimum, dev-1 is no longer halted");
    // Recorded as the dashboard's and the library's top-ups are: who, how much, which operation.
    const store = await openStore(`sqlite:${join(dir, ".conclave", "budgets.db")}`);
    try {
      const entries = (await store.auditLog()).filter((e) => e.kind === "ledger.funded");
      assert.equal(entries.length, 1, JSON.stringify(entries));
      assert.deepEqual(
        {
          ...(entries[0]?.data as Record<string, unknown>),
          at: 0,
        },
        {
          agent: "dev-1",
          credits: 100,
          by: "conclave ledger fund",
          operation: (JSON.parse(funded.stdout) as { operation: string }).operation,
          at: 0,
        },
      );
    } finally {
      await store.close();
    }
  });
});
