/**
 * `events --seconds` and `top --interval` wait with a timer, and Node fires
 * a timer longer than 2^31-1 ms (about 24.8 days) after 1 ms: `events
 * --seconds 3000000` used to stop listening at once and exit 0, and `top
 * --interval 3000000` to redraw in a tight loop. A value past the limit is a
 * usage error (exit 2) naming the flag.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { agents, finish, run, start } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-timer-overflow-"));

describe("seconds past what a timer can wait", {
  skip: natsServerAvailable() ? false : "no nats-server on PATH",
}, () => {
  let nats: NatsServer;
  before(async () => {
    nats = await startNatsServer();
    writeFileSync(
      join(work, "swarm.yaml"),
      `swarm: timers
transport: ${nats.url}
module: ${agents}
roles: { worker: { tasks: [t] } }
agents: [{ id: w-1, role: worker }]
`,
    );
  });
  after(async () => {
    await nats?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("events --seconds 3000000 exits 2 naming --seconds (it used to stop at once, exit 0)", async () => {
    const child = start(["events", "--swarm", "swarm.yaml", "--seconds", "3000000"], work);
    // Were it listening as asked, it would still be: stop it and report.
    const timer = setTimeout(() => child.kill("SIGINT"), 15_000);
    const r = await finish(child);
    clearTimeout(timer);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--seconds/);
  });

  test("events --seconds 2 still listens 2 seconds and exits 0", async () => {
    const began = Date.now();
    const r = await run(["events", "--swarm", "swarm.yaml", "--seconds", "2"], work);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - began >= 2_000);
  });

  test("top --interval 3000000 exits 2 naming --interval", async () => {
    const r = await run(["top", "--swarm", "swarm.yaml", "--interval", "3000000", "--once"], work);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--interval/);
  });
});
