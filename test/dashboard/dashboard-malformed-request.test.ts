/**
 * "Without the token: 401 and nothing else" holds for a request whose
 * target is not a URL at all (an absolute form with a port out of range):
 * it was answered 500 E_INTERNAL "Invalid URL" before the token was looked
 * at. With the token, such a request is the caller's mistake: 400.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import type { SwarmConfig } from "../../src/config/schema.js";
import { type DashboardServer, serveDashboard } from "../../src/dashboard/server.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const TOKEN = "malformed-request-token";
/** What serving needs of a swarm before any request: its events and its bus, both quiet. */
const swarm = {
  name: "malformed",
  on: () => () => undefined,
  transport: { subscribe: () => ({ unsubscribe: () => undefined }) },
} as unknown as Swarm;
const config = { swarm: "malformed", transport: "memory", agents: [] } as unknown as SwarmConfig;

let dashboard: DashboardServer;
before(async () => {
  dashboard = await serveDashboard(swarm, config, { port: 0, token: TOKEN });
});
after(() => dashboard.close());

/** Sends `head` as it is (no client would build it) and answers the status line and body. */
function raw(head: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(dashboard.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1");
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf("\r\n\r\n") + 4) });
    });
    socket.write(`${head}connection: close\r\n\r\n`);
  });
}

test("a target that is not a URL, without the token, is 401 and nothing else", async () => {
  const answer = await raw(`GET http://x:99999/api/overview HTTP/1.1\r\nhost: 127.0.0.1\r\n`);
  assert.equal(answer.status, 401, answer.body);
  assert.doesNotMatch(answer.body, /Invalid URL|E_INTERNAL/);
});

test("with the token it is 400, the caller's mistake", async () => {
  const answer = await raw(
    `GET http://x:99999/api/overview HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${TOKEN}\r\n`,
  );
  assert.equal(answer.status, 400, answer.body);
  assert.match(answer.body, /E_INVALID_REQUEST/);
});
