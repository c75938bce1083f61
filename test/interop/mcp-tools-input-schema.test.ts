/**
 * A tool call whose input the tool's listed input schema does not allow
 * (a model's malformed call: a missing required field, a wrong type) is
 * answered to the model as `{ error: "…" }` naming what is wrong, before
 * anything is held or sent: the server is not called and the tool's cost
 * is not charged. Before, the input went to the server as it was, and the
 * agent paid for the server's refusal.
 */
import assert from "node:assert/strict";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Budgets } from "../../src/runtime/budget.js";
import { McpTools } from "../../src/runtime/mcp-tools.js";

describe("an MCP tool call outside the tool's input schema", () => {
  let http: HttpServer;
  let url = "";
  const calls: unknown[] = [];
  const holds: string[] = [];
  const charges: number[] = [];
  let tools: McpTools;

  /** A metered agent: what is held and charged is recorded. */
  const metered = {
    has: () => true,
    holdCall: async (_agent: string, key: string) => {
      holds.push(key);
      return key;
    },
    releaseCall: async () => undefined,
    settleCall: async (_agent: string, _key: string, _held: number, cost: number) => {
      charges.push(cost);
    },
  } as unknown as Budgets;

  before(async () => {
    http = createServer((request, response) => {
      const server = new Server(
        { name: "search", version: "1.0.0" },
        { capabilities: { tools: {} } },
      );
      server.setRequestHandler(ListToolsRequestSchema, () => ({
        tools: [
          {
            name: "search_web",
            inputSchema: {
              type: "object" as const,
              properties: { query: { type: "string" }, limit: { type: "integer" } },
              required: ["query"],
            },
          },
          // A schema the validator cannot read is no reason to refuse calls.
          {
            name: "odd",
            inputSchema: { type: "object" as const, properties: { x: { type: "no-such-type" } } },
          },
        ],
      }));
      server.setRequestHandler(CallToolRequestSchema, (request) => {
        calls.push(request.params);
        return { content: [{ type: "text" as const, text: "ok" }] };
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
    tools = new McpTools({
      servers: {
        search: {
          name: "search",
          transport: "http",
          url,
          costs: { search_web: 5, odd: 1 },
          timeoutMs: 5000,
        },
      },
      references: ["mcp:search"],
    });
    await tools.start();
  });

  after(async () => {
    await tools?.close();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  const who = { budgets: metered, agentId: "a-1", taskId: "t-1" };

  test("is answered with what is wrong; nothing is held, sent or charged", async () => {
    const result = await tools.run(
      "search.search_web",
      { limit: "ten" },
      { step: "s-1", callId: "c-1" },
      who,
    );
    assert.ok(typeof result === "object" && result !== null && "error" in result, String(result));
    assert.match(String((result as { error: string }).error), /query/);
    assert.deepEqual(calls, [], "the server was not called");
    assert.deepEqual(holds, [], "nothing held");
    assert.deepEqual(charges, [], "nothing charged");
  });

  test("an input the schema allows is sent and charged as before", async () => {
    const result = await tools.run(
      "search.search_web",
      { query: "tides", limit: 3 },
      { step: "s-2", callId: "c-2" },
      who,
    );
    assert.equal(result, "ok");
    assert.deepEqual(calls, [{ name: "search_web", arguments: { query: "tides", limit: 3 } }]);
    assert.deepEqual(charges, [5]);
  });

  test("a tool whose schema cannot be compiled is still called", async () => {
    const result = await tools.run("search.odd", { x: 1 }, { step: "s-3", callId: "c-3" }, who);
    assert.equal(result, "ok");
    assert.equal(calls.length, 2);
  });
});
