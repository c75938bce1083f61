/**
 * `conclave mcp --agents a,b` hosts the gateway's signing agent
 * (`gateway.as`) besides the agents named, as `conclave gateway a2a` does:
 * every task an MCP caller starts is signed by that agent and escrowed from
 * its budget, so a process without it can start none. Before, `--agents`
 * was taken as it was, and every tool call answered `E_CONFIG: agent "…"
 * is not hosted by this node`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { finish, start } from "../cli/run-cli.js";
import { until } from "../helpers/until.js";

const TOKEN = "agents-token-0123456789abcdef";
const agentsModule = join(import.meta.dirname, "fixtures", "gateway-agents.mjs");
const dir = mkdtempSync(join(tmpdir(), "conclave-mcp-cli-agents-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("conclave mcp --agents without the gateway's agent still serves calls, signed by it", async () => {
  const file = join(dir, "swarm.yaml");
  writeFileSync(
    file,
    `swarm: mcp-agents
transport: memory
dataDir: ${dir}
module: ${agentsModule}
roles:
  lead: {}
  writer: { tasks: [write] }
agents:
  - { id: lead, role: lead }
  - { id: writer-1, role: writer }
workload: { releaseFile: ${JSON.stringify(join(dir, "release"))} }
gateway:
  as: lead
  port: 0
  tokens: { ide: ${TOKEN} }
  waitMs: 5000
  expose: [{ role: writer, task: write }]
`,
  );
  const child = start(
    ["mcp", "--swarm", file, "--http", "--port", "0", "--agents", "writer-1"],
    dir,
  );
  const exited = finish(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  try {
    await until(() => /mcp: (\S+)/.test(stderr), 20_000, `the URL on stderr (${stderr})`);
    const url = /mcp: (\S+)/.exec(stderr)?.[1] ?? "";
    const client = new Client({ name: "ide", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
      }),
    );
    try {
      const result = await client.callTool({ name: "writer.write", arguments: { topic: "owls" } });
      assert.notEqual(result.isError, true, JSON.stringify(result.content));
      const structured = result.structuredContent as { result: { caller: string } };
      assert.equal(structured.result.caller, "ide");
    } finally {
      await client.close();
    }
  } finally {
    child.kill("SIGTERM");
  }
  const run = await exited;
  assert.equal(run.code, 0, run.stderr);
});
