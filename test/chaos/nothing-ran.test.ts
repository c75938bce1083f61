/**
 * A swarm spread over processes that cannot start its workload must fail:
 * every child fails to reach the broker, nothing is submitted, and the run
 * exits 1 with the reason (it used to print a summary of 0 tasks and exit 0).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { freePorts } from "../../src/testkit/brokers/nats-server.js";
import { finish, start } from "../cli/run-cli.js";

describe("demo --processes 2 when no child can reach the broker", () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-nothing-ran-"));
  after(() => rmSync(work, { recursive: true, force: true }));

  test("exits 1 and says why, instead of a summary of 0 tasks and exit 0", {
    timeout: 60_000,
  }, async () => {
    // A port nobody listens on: every child's connection is refused.
    const [closed] = await freePorts(1);
    const run = await finish(
      start(
        [
          "demo",
          "--transport",
          `nats://127.0.0.1:${closed}`,
          "--processes",
          "2",
          "--tasks",
          "5",
          "--timeout",
          "40",
          "--json",
          "--data-dir",
          join(work, "data"),
        ],
        work,
      ),
    );
    assert.equal(run.code, 1, `exit code; stderr:\n${run.stderr.slice(-1500)}`);
    assert.match(run.stderr, /no task was submitted/);
    assert.match(run.stderr, /cannot connect to NATS/, "the children's reason is repeated");
  });
});
