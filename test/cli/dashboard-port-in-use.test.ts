/**
 * `conclave dashboard --port P` with P in use names its own option: before,
 * it said "pick another --dashboard", the option of `up`, which this command
 * does not have.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { agents, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-dashboard-port-"));
let blocker: Server;
let port: number;
before(async () => {
  blocker = createServer();
  await new Promise<void>((listening) => blocker.listen(0, "127.0.0.1", listening));
  port = (blocker.address() as { port: number }).port;
});
after(() => {
  blocker.close();
  rmSync(work, { recursive: true, force: true });
});

test("dashboard on a port in use: exit 2, pick another --port", async () => {
  // The store of a swarm that ran: an observer opens it, never creates one.
  await openSqliteStore({ path: join(work, "watched.db") }).close();
  writeFileSync(
    join(work, "swarm.yaml"),
    `swarm: watched
module: ${agents}
transport: nats://127.0.0.1:4222
store: sqlite:./watched.db
roles: { worker: { tasks: [t] } }
agents: [{ id: w-1, role: worker }]
`,
  );
  const r = await run(["dashboard", "--swarm", "swarm.yaml", "--port", String(port)], work);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `cannot serve the dashboard on 127\\.0\\.0\\.1:${port}: the port is in use; pick another --port`,
    ),
  );
});
