/**
 * The demo spread over OS processes on a private nats-server: calls for
 * proposals, bids and awards cross processes, and the summary carries the
 * same sections as the embedded demo (ledger, consensus, auctions), measured
 * from the shared store, with nothing lost.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { type NatsServer, natsServerAvailable, startNatsServer } from "../helpers/nats-server.js";
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
    const child = spawn(
      process.execPath,
      [
        "--import",
        tsx,
        bin,
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
      ],
      { cwd: work, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((r) => child.on("close", r));
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
});
