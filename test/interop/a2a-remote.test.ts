/**
 * A role served by an outside A2A agent (`remote: { a2a: <card URL> }`),
 * called with conclave's client (the @a2a-js/sdk client) against an agent
 * built from the SDK's own server: the task completes with the remote's
 * answer and its reported cost is charged; a remote answering 500 or not
 * there at all makes the task retry, then dead-letter; a remote that fails
 * the task dead-letters it at once; a bad URL is a clear config error.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { ChildTaskFailedError, ConfigError } from "../../src/errors/index.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { type RemoteAgent, startRemoteAgent } from "./a2a-remote-server.js";

const work = mkdtempSync(join(tmpdir(), "conclave-a2a-remote-"));
const TOKEN = "remote-token-0123456789";

describe("a role served by an outside A2A agent", () => {
  let good: RemoteAgent;
  let flaky: RemoteAgent;
  let gone: RemoteAgent;
  let older: RemoteAgent;
  let swarm: Swarm;

  before(async () => {
    good = await startRemoteAgent((message) => {
      const data = message.parts.find((p) => p.content?.$case === "data")?.content?.value as {
        text: string;
      };
      if (data.text === "nope") return { fail: "cannot translate that" };
      return { data: { text: `hola ${data.text}` }, cost: 7 };
    });
    flaky = await startRemoteAgent(() => ({ data: "never" }));
    flaky.failWith = 500;
    older = await startRemoteAgent(() => ({ data: { text: "salut" } }), { legacy: true });
    gone = await startRemoteAgent(() => ({ data: "never" }));
    await gone.close();
    const config = parseSwarmConfig(
      `swarm: remote
dataDir: ./data
defaults: { maxDeliver: 3, backoff: { baseMs: 20, maxMs: 40 } }
roles:
  lead: {}
  translator: { tasks: [translate], remote: { a2a: "${good.cardUrl}", token: "\${REMOTE_TOKEN}" } }
  flaky: { tasks: [translate-flaky], remote: { a2a: "${flaky.cardUrl}", timeoutMs: 2000 } }
  gone: { tasks: [translate-gone], remote: { a2a: "${gone.cardUrl}", timeoutMs: 2000 } }
  older: { tasks: [translate-old], remote: { a2a: "${older.cardUrl}" } }
agents:
  - { id: lead, role: lead }
  - { id: tr-1, role: translator, budget: { initial: 100 } }
  - { id: fl-1, role: flaky }
  - { id: go-1, role: gone }
  - { id: old-1, role: older }
`,
      { baseDir: work, env: { REMOTE_TOKEN: TOKEN } },
    );
    assert.deepEqual(config.roles["translator"]?.remote, {
      a2a: good.cardUrl,
      token: TOKEN,
      timeoutMs: 60_000,
    });
    // An empty module: the remote roles' agents need no handlers of their own.
    swarm = await openSwarm(config, { module: { setup() {} } });
    await swarm.start();
  });

  after(async () => {
    await swarm?.close();
    await good?.close();
    await flaky?.close();
    await older?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("the task is sent as a data part and text with the token; the remote's answer is the result; its cost is charged", async () => {
    const result = await swarm.submitAndWait(
      "translator",
      "translate",
      { text: "mundo" },
      { as: "lead", timeoutMs: 10_000 },
    );
    assert.deepEqual(result, { text: "hola mundo" });
    const sent = good.requests.find((r) => r.method === "SendMessage");
    assert.equal(sent?.authorization, `Bearer ${TOKEN}`);
    const parts = JSON.stringify((sent?.message as { parts?: unknown[] } | undefined)?.parts);
    assert.match(parts, /"data":\{"text":"mundo"\}/);
    assert.match(parts, /"text":"\{\\"text\\":\\"mundo\\"\}"/);
    assert.equal(await swarm.budgets.balance("tr-1"), 93);
  });

  test("an agent still on A2A v0.3 is called in v0.3 (message/send)", async () => {
    const result = await swarm.submitAndWait(
      "older",
      "translate-old",
      { text: "monde" },
      { as: "lead", timeoutMs: 10_000 },
    );
    assert.deepEqual(result, { text: "salut" });
    assert.deepEqual(
      older.requests.map((r) => r.method),
      ["message/send"],
    );
  });

  test("a remote that fails the task dead-letters it at once, saying so", async () => {
    const before = good.requests.length;
    await assert.rejects(
      swarm.submitAndWait(
        "translator",
        "translate",
        { text: "nope" },
        { as: "lead", timeoutMs: 10_000 },
      ),
      (error: Error) => {
        assert.ok(error instanceof ChildTaskFailedError);
        assert.match(error.message, /refused the task: its task \S+ ended failed/);
        return true;
      },
    );
    assert.equal(good.requests.length - before, 1, "not retried");
  });

  test("a remote answering HTTP 500 is retried up to maxDeliver, then the task is dead-lettered", async () => {
    await assert.rejects(
      swarm.submitAndWait(
        "flaky",
        "translate-flaky",
        { text: "x" },
        { as: "lead", timeoutMs: 10_000 },
      ),
      (error: Error) => {
        assert.match(error.message, /did not answer: HTTP error for SendMessage! Status: 500/);
        return true;
      },
    );
    assert.equal(flaky.requests.length, 3, "three deliveries, three calls");
  });

  test("an unreachable remote is retried, then the task is dead-lettered", async () => {
    await assert.rejects(
      swarm.submitAndWait(
        "gone",
        "translate-gone",
        { text: "x" },
        { as: "lead", timeoutMs: 10_000 },
      ),
      /the remote A2A agent at http:\/\/127\.0\.0\.1:\d+\/\.well-known\/agent-card\.json did not answer/,
    );
  });

  test("a remote URL that is not http(s) is a clear configuration error", () => {
    assert.throws(
      () =>
        parseSwarmConfig(
          `swarm: bad
roles: { translator: { tasks: [translate], remote: { a2a: "ftp://x/card.json" } }, idle: { remote: { a2a: "http://x/c" } } }
agents: [{ id: t, role: translator }]
`,
        ),
      (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(
          error.message,
          /roles\.translator\.remote\.a2a: expected the http:\/\/ or https:\/\/ URL of the remote A2A agent's card/,
        );
        assert.match(error.message, /got "ftp:\/\/x\/card\.json"/);
        assert.match(
          error.message,
          /roles\.idle\.tasks: role "idle" is served by a remote agent but lists no tasks/,
        );
        return true;
      },
    );
  });
});
