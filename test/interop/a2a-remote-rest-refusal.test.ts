/**
 * A remote role whose A2A agent offers only the HTTP+JSON (REST) binding:
 * when the agent refuses our credentials (HTTP 401) or the request (HTTP
 * 400), the task is dead-lettered at once with `E_REMOTE_REFUSED`, as over
 * JSON-RPC (docs/INTEROP.md, "Failures") — not retried `maxDeliver` times,
 * calling the agent again each time, as if it were unreachable.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AgentCard } from "@a2a-js/sdk";
import { parseSwarmConfig } from "../../src/config/load.js";
import { ChildTaskFailedError } from "../../src/errors/index.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const work = mkdtempSync(join(tmpdir(), "conclave-a2a-remote-rest-"));

/** A REST-only A2A agent answering every call with `status` and a google.rpc.Status body. */
async function refusingRestAgent(
  status: number,
): Promise<{ server: Server; cardUrl: string; calls: string[] }> {
  const calls: string[] = [];
  let base = "";
  const server = createServer((request, response) => {
    if (request.method === "GET" && request.url === "/.well-known/agent-card.json") {
      const card: AgentCard = {
        name: "rest agent",
        description: "An A2A agent speaking HTTP+JSON only.",
        supportedInterfaces: [
          { url: base, protocolBinding: "HTTP+JSON", tenant: "", protocolVersion: "1.0" },
        ],
        provider: undefined,
        version: "1.0.0",
        capabilities: { streaming: false, pushNotifications: false, extensions: [] },
        securitySchemes: {},
        securityRequirements: [],
        defaultInputModes: ["application/json"],
        defaultOutputModes: ["application/json"],
        skills: [],
        signatures: [],
      };
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(AgentCard.toJSON(card)));
      return;
    }
    calls.push(`${request.method} ${request.url}`);
    request.resume();
    request.on("end", () => {
      response.writeHead(status, { "content-type": "application/json" }).end(
        JSON.stringify({
          error: {
            code: status,
            status: status === 401 ? "UNAUTHENTICATED" : "INVALID_ARGUMENT",
            message: status === 401 ? "bad token" : "not a request I take",
          },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, cardUrl: `${base}/.well-known/agent-card.json`, calls };
}

describe("a remote role over HTTP+JSON whose agent refuses", () => {
  let unauthorized: Awaited<ReturnType<typeof refusingRestAgent>>;
  let malformed: Awaited<ReturnType<typeof refusingRestAgent>>;
  let swarm: Swarm;

  before(async () => {
    unauthorized = await refusingRestAgent(401);
    malformed = await refusingRestAgent(400);
    const config = parseSwarmConfig(
      `swarm: remote-rest
dataDir: ./data
defaults: { maxDeliver: 3, backoff: { baseMs: 20, maxMs: 40 } }
roles:
  lead: {}
  locked: { tasks: [translate], remote: { a2a: "${unauthorized.cardUrl}", token: wrong-token-0123456789, timeoutMs: 5000 } }
  picky: { tasks: [translate-picky], remote: { a2a: "${malformed.cardUrl}", timeoutMs: 5000 } }
agents:
  - { id: lead, role: lead }
  - { id: lk-1, role: locked }
  - { id: pk-1, role: picky }
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, { module: { setup() {} } });
    await swarm.start();
  });

  after(async () => {
    await swarm?.close();
    unauthorized?.server.close();
    malformed?.server.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("HTTP 401: dead-lettered at once, saying the credentials were refused; called once", async () => {
    await assert.rejects(
      swarm.submitAndWait("locked", "translate", { text: "x" }, { as: "lead", timeoutMs: 15_000 }),
      (error: Error) => {
        assert.ok(error instanceof ChildTaskFailedError, String(error));
        assert.match(
          error.message,
          /refused the task: HTTP 401: it does not accept our credentials/,
        );
        return true;
      },
    );
    assert.equal(unauthorized.calls.length, 1, unauthorized.calls.join("; "));
  });

  test("HTTP 400: dead-lettered at once; called once", async () => {
    await assert.rejects(
      swarm.submitAndWait(
        "picky",
        "translate-picky",
        { text: "x" },
        { as: "lead", timeoutMs: 15_000 },
      ),
      (error: Error) => {
        assert.ok(error instanceof ChildTaskFailedError, String(error));
        assert.match(error.message, /refused the task: HTTP 400/);
        return true;
      },
    );
    assert.equal(malformed.calls.length, 1, malformed.calls.join("; "));
  });
});
