/**
 * An MCP server that accepts the connection but whose tools cannot be listed
 * (it offers none: `tools/list` is "method not found") fails the start with
 * `E_MCP_UNAVAILABLE` — and the connection it opened is closed, so a stdio
 * server does not stay behind as an orphaned child process once the node
 * closes its MCP tools.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { McpTools } from "../../src/runtime/mcp-tools.js";
import { until } from "../helpers/until.js";

const server = join(import.meta.dirname, "fixtures", "no-tools-server.mjs");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("an MCP server whose tools cannot be listed", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-mcp-no-tools-"));
  let pid: number | undefined;
  after(() => {
    if (pid !== undefined && alive(pid)) process.kill(pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("fails the start, and its stdio child is not left running", async () => {
    const pidFile = join(dir, "server.pid");
    const tools = new McpTools({
      servers: {
        bare: {
          name: "bare",
          transport: "stdio",
          command: process.execPath,
          args: [server],
          env: { MCP_PID_FILE: pidFile },
          costs: {},
          timeoutMs: 10_000,
        },
      },
      references: ["mcp:bare"],
    });
    await assert.rejects(tools.start(), (error: Error & { code?: string }) => {
      assert.equal(error.code, "E_MCP_UNAVAILABLE", String(error));
      return true;
    });
    pid = Number(readFileSync(pidFile, "utf8"));
    await tools.close();
    await until(() => !alive(pid as number), 5000, "the stdio server to exit");
  });
});
