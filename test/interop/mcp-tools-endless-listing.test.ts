/**
 * An MCP server whose `tools/list` never ends (every page names a next
 * cursor: the same one again, as a server with a paging bug does) fails the
 * start with `E_MCP_UNAVAILABLE`, saying so. Before, the node listed page
 * after page for ever: its start never returned and the listed tools grew
 * without bound.
 */
import assert from "node:assert/strict";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { McpTools } from "../../src/runtime/mcp-tools.js";

describe("an MCP server whose tool listing never ends", () => {
  let http: HttpServer;
  let url = "";
  let pages = 0;
  let tools: McpTools | undefined;

  before(async () => {
    http = createServer((request, response) => {
      const server = new Server(
        { name: "endless", version: "1.0.0" },
        { capabilities: { tools: {} } },
      );
      server.setRequestHandler(ListToolsRequestSchema, () => {
        pages += 1;
        return {
          tools: [{ name: `tool_${pages}`, inputSchema: { type: "object" as const } }],
          nextCursor: "again",
        };
      });
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      response.on("close", () => {
        void transport.close();
        void server.close();
      });
      void server.connect(transport).then(() => transport.handleRequest(request, response));
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  });

  after(async () => {
    // The server goes first: a listing still under way ends when it cannot reach it.
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await tools?.close();
  });

  test("fails the start as unavailable instead of listing for ever", async () => {
    tools = new McpTools({
      servers: {
        endless: { name: "endless", transport: "http", url, costs: {}, timeoutMs: 5000 },
      },
      references: ["mcp:endless"],
    });
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<"still listing">((resolve) => {
      timer = setTimeout(() => resolve("still listing"), 10_000);
    });
    try {
      const outcome = await Promise.race([
        (tools as McpTools).start().then(
          () => "started" as const,
          (error: unknown) => error,
        ),
        gaveUp,
      ]);
      assert.notEqual(outcome, "still listing", `still listing after ${pages} pages`);
      assert.notEqual(outcome, "started");
      const error = outcome as Error & { code?: string };
      assert.equal(error.code, "E_MCP_UNAVAILABLE", String(error));
      assert.match(error.message, /cursor|pages/);
    } finally {
      clearTimeout(timer);
    }
  });
});
