/**
 * The demo spread over OS processes on a private nats-server: calls for
 * proposals, bids and awards cross processes, and the summary carries the
 * same sections as the embedded demo (ledger, consensus, auctions), measured
 * from the shared store, with nothing lost.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { until } from "../helpers/until.js";
import { assertAvailable, requirement } from "./fixtures/processes.js";

const root = resolve(import.meta.dirname, "..", "..");
const bin = join(root, "src", "cli", "bin.ts");
const tsx = import.meta.resolve("tsx");
const missing = natsServerAvailable() ? undefined : "no nats-server binary on PATH";

describe("demo --processes 3 on NATS", { skip: requirement("nats-server", missing) }, () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-demo-processes-"));
  let server: NatsServer | undefined;
  after(async () => {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("auctions across processes; the summary matches the embedded demo's shape; nothing lost", async () => {
    assertAvailable("nats-server", missing);
    server = await startNatsServer();
    const { code, stdout, stderr } = await conclave([
      "demo",
      "--transport",
      server.url,
      "--processes",
      "3",
      "--tasks",
      "60",
      "--json",
      "--data-dir",
      join(work, "data"),
    ]).done;
    assert.equal(code, 0, stderr.slice(-2000));
    const summary = JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
      tasks: { submitted: number; completed: number; deadLettered: number; lost: number };
      ledger?: { minted: number; sum: number; negative: number };
      consensus?: { proposals: number };
      auctions?: { held: number; awarded: number; unsold: number; rejectedBids: number };
    };
    assert.equal(summary.tasks.submitted, 60);
    assert.equal(summary.tasks.lost, 0);
    assert.equal(summary.tasks.completed + summary.tasks.deadLettered, 60);
    assert.ok(summary.ledger, "a ledger section");
    assert.equal(summary.ledger.sum, summary.ledger.minted);
    assert.equal(summary.ledger.negative, 0);
    assert.ok(summary.consensus && summary.consensus.proposals >= 1, "a consensus section");
    assert.ok(summary.auctions, "an auctions section");
    assert.ok(summary.auctions.held >= 5, `auctions held: ${summary.auctions.held}`);
    assert.equal(summary.auctions.awarded + summary.auctions.unsold, summary.auctions.held);
    assert.ok(summary.auctions.awarded >= 1, "bids crossed processes and won");
  });

  test("without --json, the same human summary as the embedded demo", async () => {
    assertAvailable("nats-server", missing);
    server ??= await startNatsServer();
    const demo = (args: string[], data: string) =>
      conclave(["demo", "--tasks", "20", "--data-dir", join(work, data), ...args]).done;
    const [embedded, distributed] = await Promise.all([
      demo([], "embedded"),
      demo(["--transport", server.url, "--processes", "2"], "distributed"),
    ]);
    assert.equal(embedded.code, 0, embedded.stderr.slice(-2000));
    assert.equal(distributed.code, 0, distributed.stderr.slice(-2000));
    assert.doesNotMatch(distributed.stdout, /^\s*[{[]/m, "no JSON on stdout");
    const labels = (stdout: string) =>
      stdout
        .split("\n")
        .filter((line) => /^ {2}\S/.test(line))
        .map((line) => line.trim().split(/\s{2,}/)[0])
        // Present only when something was dead-lettered, which a flaky developer may vary.
        .filter((label) => label !== "dead-letter reasons");
    assert.match(distributed.stdout, /^swarm review-swarm — nothing lost in [\d.]+s$/m);
    assert.deepEqual(labels(distributed.stdout), labels(embedded.stdout));
    assert.match(distributed.stdout, /^ {2}tasks submitted\s+20$/m);
  });

  test("SIGTERM to the parent drains every child, then prints the summary (exit 130); no child outlives it", async () => {
    assertAvailable("nats-server", missing);
    server ??= await startNatsServer();
    const data = join(work, "stopped");
    const run = conclave([
      "demo",
      "--transport",
      server.url,
      "--processes",
      "2",
      "--tasks",
      "400",
      "--json",
      "--data-dir",
      data,
    ]);
    await until(() => run.stdout().includes('"task.completed"'), 60_000, "a task completed");
    run.child.kill("SIGTERM");
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 130, stderr.slice(-2000));
    const summary = JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
      type: string;
      tasks: { submitted: number; lost: number };
    };
    assert.equal(summary.type, "summary");
    // Stopped early: what did not finish is pending, not lost.
    assert.ok(summary.tasks.submitted >= 1, JSON.stringify(summary));
    assert.equal(summary.tasks.lost, 0, JSON.stringify(summary));
    const left = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line.includes(data) && !line.startsWith("ps "));
    assert.deepEqual(left, [], "no child process left running");
  });
});

/** Starts `conclave <args>`; `done` resolves when it exits, `stdout()` reads what it printed so far. */
function conclave(args: string[]) {
  const child = spawn(process.execPath, ["--import", tsx, bin, ...args], {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, stdout: () => stdout };
}
