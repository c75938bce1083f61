import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  finish,
  jsonLines,
  reviewSwarmYaml,
  run as runIn,
  start as startIn,
  summaryOf,
} from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-cli-"));
after(() => rmSync(work, { recursive: true, force: true }));

const start = (args: string[], cwd = work) => startIn(args, cwd);
const run = (args: string[], cwd = work) => runIn(args, cwd);

function swarmFile(name: string, workload: Record<string, number>): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    reviewSwarmYaml({
      name,
      head: `dataDir: ${join(work, name)}\n`,
      moreAgents: ["{ id: dev-3, role: developer, options: { flakiness: 0.3 } }"],
      workload,
    }),
  );
  return file;
}

describe("conclave CLI", () => {
  test("demo --json: every line is JSON and the summary adds up", async () => {
    const r = await run(["demo", "--json", "--tasks", "60", "--data-dir", join(work, "demo")]);
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r.stdout);
    assert.equal(s.tasks.submitted, 60);
    assert.equal(s.tasks.completed + s.tasks.deadLettered, 60);
    assert.equal(s.tasks.lost, 0);
    assert.equal(s.tasks.duplicateEffects, 0);
    assert.ok(s.tasks.deadLettered >= 1, "the impossible spec is dead-lettered");
    const events = jsonLines(r.stdout);
    assert.ok(
      events.some((e) => e.type === "task.failed" && e.willRetry === true),
      "retries are visible",
    );
    // Every fourth passing change is reviewed again by auction; every seventh nobody bids on.
    const auctions = (s as unknown as { auctions: Record<string, number> }).auctions;
    assert.ok(auctions, "the summary has an auctions section");
    assert.equal(auctions["awarded"]! + auctions["unsold"]!, auctions["held"]);
    assert.ok(auctions["held"]! >= 10, `auctions held: ${auctions["held"]}`);
    assert.ok(auctions["unsold"]! >= 1, "some reviews go unsold");
    // rev-2 and rev-3 share an owner: one of their bids is refused in each auction they both bid in.
    assert.ok(auctions["rejectedBids"]! >= 1, "the shill's bids are refused");
    assert.ok(
      events.some((e) => e.type === "auction.bid_rejected" && e.reason === "duplicate-identity"),
      "the shill bids are refused and reported",
    );
  });

  test("demo without --json prints a human summary", async () => {
    const r = await run(["demo", "--tasks", "20", "--data-dir", join(work, "demo-human")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /nothing lost/);
    assert.match(r.stdout, /lost\s+0/);
    assert.match(r.stderr, /progress: /, "plain progress lines when stderr is not a terminal");
  });

  test("kill -9 mid-run, then `up` again: every task settles, none lost, no effect twice", async () => {
    const file = swarmFile("crashy", { tasks: 400, impossibleEvery: 50, workMs: 40 });
    const child = start(["up", file, "--json"]);
    const first = finish(child);
    let completed = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the first run completed no task")), 60_000);
      child.stdout?.on("data", (d: Buffer) => {
        completed += (d.toString().match(/"task.completed"/g) ?? []).length;
        if (completed >= 60) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill("SIGKILL");
    const killed = await first;
    assert.equal(killed.signal, "SIGKILL");
    assert.ok(!killed.stdout.includes('"summary"'), "the first run did not get to finish");

    const again = await run(["up", file, "--json"]);
    assert.equal(again.code, 0, again.stderr);
    const s = summaryOf(again.stdout);
    assert.equal(s.tasks.submitted, 400, "the plan was not made twice");
    assert.equal(s.tasks.completed + s.tasks.deadLettered, 400);
    assert.equal(s.tasks.lost, 0);
    assert.equal(s.tasks.duplicateEffects, 0);
  });

  test("an invalid swarm file exits 2 and names the field and line", async () => {
    const file = join(work, "bad.yaml");
    writeFileSync(
      file,
      "swarm: bad\nagents:\n  - id: a\n    role: ghost\nroles:\n  dev: { concurrencyy: 2 }\n",
    );
    const r = await run(["up", file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml:4: agents\.0\.role/);
    assert.match(r.stderr, /did you mean "concurrency"/);
  });

  test("a task count beyond 2^53 is refused (exit 2), in the file and on the command line", async () => {
    // Written as 100000000000000000000: YAML reads a number no count can be exactly.
    const file = swarmFile("huge", { tasks: 1e20 });
    const inFile = await run(["up", file]);
    assert.equal(inFile.code, 2, inFile.stderr);
    assert.match(inFile.stderr, /workload\.tasks: a whole number beyond the largest exact one/);
    const onLine = await run([
      "up",
      swarmFile("huge-flag", { tasks: 5 }),
      "--tasks",
      "99999999999999999999",
    ]);
    assert.equal(onLine.code, 2, onLine.stderr);
    assert.match(onLine.stderr, /--tasks.*expected a whole number from 1 to 9007199254740991/);
  });

  test("a swarm module that fails to import: exit 2 with the cause and where it was thrown", async () => {
    const module = join(work, "broken-agents.mjs");
    writeFileSync(
      module,
      'const key = process.env.NO_SUCH_KEY;\nif (!key) throw new Error("set NO_SUCH_KEY first");\nexport function setup() {}\n',
    );
    const file = join(work, "broken.yaml");
    writeFileSync(
      file,
      `swarm: broken\ndataDir: ${join(work, "broken")}\nmodule: ${module}\nroles:\n  dev: { tasks: [code] }\nagents:\n  - { id: dev-1, role: dev }\n`,
    );
    const r = await run(["up", file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot import the swarm module .*broken-agents\.mjs/);
    assert.match(r.stderr, /Error: set NO_SUCH_KEY first/);
    assert.match(r.stderr, /at .*broken-agents\.mjs:2/, "the stack's head points at the line");
    assert.doesNotMatch(r.stderr, /unexpected failure/);
  });

  test("a swarm module that does not exist, or imports a package that does not: exit 2 naming it, no resolver frames", async () => {
    const missing = join(work, "missing-module.yaml");
    writeFileSync(
      missing,
      `swarm: missing\ndataDir: ${join(work, "missing")}\nmodule: ./no-such-agents.mjs\nroles:\n  dev: { tasks: [code] }\nagents:\n  - { id: dev-1, role: dev }\n`,
    );
    const r = await run(["up", missing]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /cannot import the swarm module .*no-such-agents\.mjs: no such file; check the path/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack frames");

    const module = join(work, "needs-package.mjs");
    writeFileSync(module, 'import "no-such-package-conclave";\nexport function setup() {}\n');
    const needs = join(work, "needs-package.yaml");
    writeFileSync(
      needs,
      `swarm: needs\ndataDir: ${join(work, "needs")}\nmodule: ${module}\nroles:\n  dev: { tasks: [code] }\nagents:\n  - { id: dev-1, role: dev }\n`,
    );
    const p = await run(["up", needs]);
    assert.equal(p.code, 2, p.stderr);
    assert.match(
      p.stderr,
      /Cannot find package 'no-such-package-conclave' imported from .*needs-package\.mjs/,
    );
    assert.doesNotMatch(p.stderr, /\n\s+at /, "the resolver's frames are left out");
  });

  test("--agents or --id that names no agent is a usage error (exit 2) at once", async () => {
    const file = swarmFile("no-agents", { tasks: 5 });
    for (const args of [
      ["up", file, "--agents", ","],
      ["agent", "--swarm", file, "--id", " , "],
      ["up", file, "--agents", "a b"],
    ]) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /names no agent|is not an agent id/);
    }
  });

  test("an LLM agent's model missing from prices: exit 2 at start, before any task or store", async () => {
    const data = join(work, "unpriced");
    const file = join(work, "unpriced.yaml");
    writeFileSync(
      file,
      `swarm: unpriced
dataDir: ${data}
models:
  local: { provider: openai-compatible, baseURL: "http://127.0.0.1:9/v1", model: llama3.2 }
roles:
  writer: { tasks: [write] }
agents:
  - { id: writer-1, role: writer, budget: { initial: 1000 }, llm: { model: local } }
`,
    );
    const r = await run(["up", file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no price for model "llama3\.2" \(models\.local\)/);
    assert.match(r.stderr, /prices/);
    assert.equal(existsSync(data), false, "nothing was opened");
  });

  test("a malformed --transport is a usage error naming the flag (exit 2), for every command", async () => {
    const file = swarmFile("bad-transport", { tasks: 1 });
    for (const url of ["amqp://host:5672:99", "nats://u@[::1"]) {
      for (const args of [
        ["up", file],
        ["events", "--swarm", file, "--seconds", "1"],
        ["doctor", "--swarm", file],
      ]) {
        const r = await run([...args, "--transport", url]);
        assert.equal(r.code, 2, `${args[0]} ${url}: ${r.stderr}`);
        assert.match(r.stderr, /option '--transport <url>'.*well-formed URL/, r.stderr);
        assert.doesNotMatch(r.stderr, /unexpected failure|at new URL/);
      }
    }
  });

  test("doctor --store and --transport check what they name instead of the file's", async () => {
    const file = swarmFile("doctor-flags", { tasks: 1 });
    const missing = join(work, "doctor-missing", "x.db");
    // A broker that is not there: a port nothing listens on.
    const r = await run([
      "doctor",
      "--swarm",
      file,
      "--store",
      `sqlite:${missing}`,
      "--transport",
      "nats://127.0.0.1:9",
      "--json",
    ]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as {
      checks: { name: string; ok: boolean; detail: string }[];
    };
    const check = (name: string) => report.checks.find((c) => c.name === name);
    assert.match(check("store")?.detail ?? "", /doctor-missing\/x\.db is created on the first run/);
    assert.equal(check("transport")?.ok, false);
    assert.match(check("transport")?.detail ?? "", /127\.0\.0\.1:9.*connection refused/);
    assert.equal(existsSync(missing), false, "doctor creates no store");

    const alone = await run(["doctor", "--transport", "memory", "--json"]);
    assert.equal(alone.code, 0, alone.stderr);
    assert.ok(
      (JSON.parse(alone.stdout) as { checks: { name: string }[] }).checks.some(
        (c) => c.name === "transport",
      ),
    );
  });

  test("doctor --store postgres://…: a missing database fails, a missing schema is fine, nothing is created", async (t) => {
    const url =
      process.env["CONCLAVE_TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
    const probe = await run(["doctor", "--store", url, "--json"]);
    const store = (stdout: string) =>
      (
        JSON.parse(stdout) as { checks: { name: string; ok: boolean; detail: string }[] }
      ).checks.find((c) => c.name === "store");
    if (store(probe.stdout)?.ok !== true) {
      t.skip(`Postgres at ${url} is unreachable: ${store(probe.stdout)?.detail}`);
      return;
    }
    const base = new URL(url);
    const missingDb = new URL(url);
    missingDb.pathname = "/conclave_doctor_no_such_database";
    const gone = await run(["doctor", "--store", missingDb.href, "--json"]);
    assert.equal(gone.code, 1, gone.stderr);
    assert.match(
      store(gone.stdout)?.detail ?? "",
      /database "conclave_doctor_no_such_database" does not exist/,
    );

    base.searchParams.set("schema", `doctor_${Date.now()}`);
    const fresh = await run(["doctor", "--store", base.href, "--json"]);
    assert.equal(fresh.code, 0, fresh.stdout + fresh.stderr);
    assert.match(store(fresh.stdout)?.detail ?? "", /the schema is created on the first run/);
  });

  test("unknown commands and bad options exit 2", async () => {
    assert.equal((await run(["frobnicate"])).code, 2);
    assert.equal((await run(["demo", "--tasks", "zero"])).code, 2);
  });

  test("keys gen writes a 0600 key file per agent", async () => {
    const dir = join(work, "keys");
    const r = await run(["keys", "gen", "alice", "bob", "--dir", dir, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { agent: string; path: string; fingerprint: string }[];
    assert.deepEqual(
      out.map((k) => k.agent),
      ["alice", "bob"],
    );
    for (const k of out) {
      assert.equal(statSync(k.path).mode & 0o777, 0o600);
      assert.match(k.fingerprint, /^SHA256:/);
      assert.ok(readFileSync(k.path, "utf8").includes('"alg"'));
    }
    const again = await run(["keys", "gen", "alice", "--dir", dir]);
    assert.equal(again.code, 2, "an existing key is not overwritten without --force");
    assert.match(again.stderr, /alice\.key already exists; nothing was written.*pass --force/);
    const bad = await run(["keys", "gen", "carol", "../escape", "--dir", dir]);
    assert.equal(bad.code, 2, "a malformed agent id is a usage error");
    assert.match(bad.stderr, /"\.\.\/escape" is not an agent id/);
    assert.equal(existsSync(join(dir, "carol.key")), false, "no key written when an id is bad");
  });

  test("doctor --json reports every check", async () => {
    const file = swarmFile("doctor", { tasks: 1 });
    const r = await run(["doctor", "--swarm", file, "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[] };
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.checks.map((c) => c.name),
      ["node", "sqlite", "swarm file", "store", "transport"],
    );
  });
});
