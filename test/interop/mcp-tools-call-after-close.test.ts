/**
 * A tool call that comes after the node closed its MCP tools (a task still
 * in its loop while the swarm stops) fails, and starts no server again: a
 * stdio server spawned for it would be left running, its connection never
 * closed.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Budgets } from "../../src/runtime/budget.js";
import { McpTools } from "../../src/runtime/mcp-tools.js";
import { until } from "../helpers/until.js";

const filesServer = join(import.meta.dirname, "fixtures", "files-server.mjs");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An agent without a budget: nothing is held or charged. */
const unmetered = {
  has: () => false,
  holdCall: async (_agent: string, key: string) => key,
  releaseCall: async () => undefined,
  settleCall: async () => undefined,
} as unknown as Budgets;

describe("an MCP tool called after the node closed its MCP tools", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-mcp-after-close-"));
  const pids: number[] = [];
  after(() => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("fails, and no stdio server is started again", async () => {
    const log = join(dir, "calls.log");
    const tools = new McpTools({
      servers: {
        files: {
          name: "files",
          transport: "stdio",
          command: process.execPath,
          args: [filesServer],
          env: { MCP_CALLS_LOG: log },
          costs: {},
          timeoutMs: 10_000,
        },
      },
      references: ["mcp:files/read_file"],
    });
    await tools.start();
    const first = Number(readFileSync(`${log}.pid`, "utf8"));
    pids.push(first);
    await tools.close();
    await until(() => !alive(first), 5000, "the stdio server to exit on close");

    await assert.rejects(
      tools.run(
        "files.read_file",
        { path: "late.txt" },
        { step: "s-1", callId: "c-1" },
        { budgets: unmetered, agentId: "a-1", taskId: "t-1" },
      ),
    );
    await sleep(300);
    const last = Number(readFileSync(`${log}.pid`, "utf8"));
    if (last !== first) pids.push(last);
    assert.ok(
      last === first || !alive(last),
      `a stdio server (pid ${last}) was started after close and left running`,
    );
    assert.ok(!existsSync(log), "the call reached no server");
  });
});
