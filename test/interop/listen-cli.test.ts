/**
 * `conclave gateway a2a` and `conclave mcp --http` when they cannot serve:
 * a port in use is a usage error naming host:port and saying to pick another
 * --port (exit 2, no stack), and a gateway.tls file that cannot be read is
 * reported as that, not as a busy port.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { finish, start } from "../cli/run-cli.js";

const TOKEN = "cli-token-0123456789abcdef";
const STACK = /^\s+at .+:\d+:\d+\)?$/m;
const work = mkdtempSync(join(tmpdir(), "conclave-listen-cli-"));

writeFileSync(
  join(work, "agents.mjs"),
  `export function setup(agent) {
  if (agent.role === "writer") agent.handle("write", () => ({ line: "hi" }));
}
`,
);
const swarm = (auth: string) => `swarm: listen
module: ./agents.mjs
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front }
  - { id: w-1, role: writer }
gateway:
  as: gate
  ${auth}
  expose: [{ role: writer, task: write }]
`;
writeFileSync(join(work, "swarm.yaml"), swarm(`tokens: { ci: "\${CI_TOKEN}" }`));
writeFileSync(
  join(work, "tls.yaml"),
  swarm("tls: { cert: ./tls/srv.pem, key: ./tls/srv.key, ca: ./tls/ca.pem }"),
);

const conclave = (args: string[]) => finish(start(args, work, { CI_TOKEN: TOKEN }));

describe("serving on an address that cannot be had", () => {
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

  for (const [what, args] of [
    ["gateway a2a", ["gateway", "a2a", "--swarm", "swarm.yaml", "--data-dir", "dd"]],
    ["mcp --http", ["mcp", "--swarm", "swarm.yaml", "--http"]],
  ] as const) {
    test(`${what} on a port in use: exit 2 naming host:port, pick another --port`, async () => {
      const r = await conclave([...args, "--port", String(port)]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `cannot serve (A2A|MCP) on 127\\.0\\.0\\.1:${port}: the port is in use; pick another --port`,
        ),
      );
      assert.doesNotMatch(r.stderr, /unexpected failure/);
      assert.doesNotMatch(r.stderr, STACK);
    });
  }

  test("mcp --http with a gateway.tls file missing names the file, next to the swarm file, and not the port", async () => {
    const r = await conclave(["mcp", "--swarm", "tls.yaml", "--http", "--port", "0"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `cannot read gateway\\.tls\\.cert \\(${join(work, "tls", "srv.pem")}\\): no such file`,
      ),
    );
    assert.doesNotMatch(r.stderr, /--port/);
  });
});
