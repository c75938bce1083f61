/**
 * The A2A gateway against the real `@a2a-js/sdk` client over loopback: the
 * card, a message answered with the task's result as an artifact, a stream
 * of its updates, tasks/get after the fact, the refusals (credentials,
 * body size, rate, an unknown skill, a privileged action the council
 * rejects), and the caller recorded in the task's envelope.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TaskState } from "@a2a-js/sdk";
import type { Client } from "@a2a-js/sdk/client";
import { parseSwarmConfig } from "../../src/config/load.js";
import type { SwarmConfig } from "../../src/config/schema.js";
import { PermanentError } from "../../src/errors/index.js";
import { type A2AGateway, startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { generateCertificates, opensslAvailable } from "../helpers/certs.js";
import { a2aClient, ask, dataPart, partsValue, textPart } from "./a2a-fixtures.js";

/** The parts of a v0.3 task the test reads. */
interface V03Task {
  kind: string;
  id: string;
  status: { state: string };
  artifacts?: { parts: { data?: unknown }[] }[];
}

const TOKEN = "ide-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-a2a-gateway-"));

function swarmFile(): SwarmConfig {
  writeFileSync(
    join(work, "cfo.yaml"),
    'rules:\n  - when: action == "funds.transfer"\n    require: data.amount <= 1000\n    message: over the CFO limit\ndefault: approve\n',
  );
  return parseSwarmConfig(
    `swarm: gw
dataDir: ./data
roles:
  front: {}
  finance: {}
  writer: { tasks: [write] }
  treasury: { tasks: [funds.transfer] }
agents:
  - { id: gate, role: front, budget: { initial: 100 } }
  - { id: cfo, role: finance, policy: ./cfo.yaml }
  - { id: w-1, role: writer }
  - { id: t-1, role: treasury }
privileged:
  funds.transfer: { voters: [finance], threshold: { weight: 1 }, deadlineMs: 2000 }
gateway:
  as: gate
  port: 0
  tokens: { ide: ${TOKEN} }
  pricePerTask: 5
  maxBodyBytes: 2048
  ratePerMinute: 1000
  expose:
    - { role: writer, task: write, description: Writes a line about a topic }
    - { role: treasury, task: funds.transfer }
`,
    { baseDir: work },
  );
}

describe("conclave's A2A gateway, driven by the @a2a-js/sdk client", () => {
  let config: SwarmConfig;
  let swarm: Swarm;
  let gateway: A2AGateway;
  let client: Client;
  const callers: string[] = [];
  const transfers: unknown[] = [];

  before(async () => {
    config = swarmFile();
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role === "writer") {
            agent.handle<{ topic: string }>("write", (ctx) => {
              callers.push(String(ctx.task.headers?.["conclave-caller"]));
              if (ctx.body.topic === "boom") throw new PermanentError("cannot write about boom");
              return { line: `a line about ${ctx.body.topic}` };
            });
          }
          if (agent.role === "treasury") {
            agent.handle("funds.transfer", (ctx) => {
              transfers.push(ctx.body);
              return "sent";
            });
          }
        },
      },
    });
    await swarm.start();
    gateway = await startA2AGateway(swarm, config);
    client = await a2aClient(gateway.cardUrl, TOKEN);
  });

  after(async () => {
    await gateway?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("the card lists the offered tasks as skills, bound to loopback, and a card per role", async () => {
    assert.match(gateway.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const card = await client.getAgentCard();
    assert.equal(card.name, "gw swarm");
    assert.deepEqual(
      card.skills.map((s) => s.id),
      ["writer.write", "treasury.funds.transfer"],
    );
    assert.equal(card.capabilities?.streaming, true);
    assert.ok(card.securitySchemes["bearer"]);
    // Without A2A-Version (a v0.3 client), the card in the v0.3 shape.
    const role = (await (
      await fetch(`${gateway.url}/roles/writer/.well-known/agent-card.json`)
    ).json()) as {
      protocolVersion: string;
      url: string;
      security: unknown[];
      skills: { id: string }[];
      supportedInterfaces: { url: string }[];
    };
    const nobody = await fetch(`${gateway.url}/roles/nobody/.well-known/agent-card.json`);
    assert.equal(nobody.status, 404);
    assert.match(await nobody.text(), /roles under \/roles\/<role>\/ \(writer, treasury\)/);
    assert.equal((await fetch(`${gateway.url}/roles/%E0/a2a`)).status, 404);
    assert.equal(role.protocolVersion, "0.3.0");
    assert.match(role.url, /\/roles\/writer\/a2a$/);
    assert.deepEqual(role.security, [{ bearer: [] }]);
    assert.deepEqual(
      role.skills.map((s) => s.id),
      ["writer.write"],
    );
    assert.match(role.supportedInterfaces[0]?.url ?? "", /\/roles\/writer\/a2a$/);
  });

  test("message/send runs the task and answers with its result; tasks/get and resubscribe find it; the caller is in the envelope", async () => {
    const result = await client.sendMessage(
      ask("writer.write", [dataPart({ topic: "bees" }), textPart("write about bees")]),
    );
    assert.ok("status" in result, "a task");
    assert.equal(result.status?.state, TaskState.TASK_STATE_COMPLETED);
    assert.deepEqual(partsValue(result.artifacts[0]?.parts), { line: "a line about bees" });
    assert.equal(result.metadata?.["cost"], 5, "the gateway's price, reported as the cost");
    const resubscribed = [];
    for await (const event of client.resubscribeTask({ tenant: "", id: result.id })) {
      resubscribed.push(event.payload?.$case);
    }
    assert.deepEqual(resubscribed, ["task", "artifactUpdate", "statusUpdate"]);
    const again = await client.getTask({ tenant: "", id: result.id });
    assert.equal(again.status?.state, TaskState.TASK_STATE_COMPLETED);
    assert.deepEqual(partsValue(again.artifacts[0]?.parts), { line: "a line about bees" });
    assert.deepEqual(callers.at(-1), "ide");
    // Escrowed from the gateway's agent, released to the worker.
    assert.equal(await swarm.budgets.balance("gate"), 95);
  });

  test("message/stream: the task, working, the result artifact, then completed", async () => {
    const events = [];
    for await (const event of client.sendMessageStream(
      ask("writer", [dataPart({ topic: "rivers" })]),
    )) {
      events.push(event);
    }
    const kinds = events.map((e) => e.payload?.$case);
    assert.deepEqual(kinds, ["task", "statusUpdate", "artifactUpdate", "statusUpdate"]);
    const [, working, artifact, done] = events;
    assert.equal(
      working?.payload?.$case === "statusUpdate" && working.payload.value.status?.state,
      TaskState.TASK_STATE_WORKING,
    );
    assert.ok(artifact?.payload?.$case === "artifactUpdate");
    assert.deepEqual(partsValue(artifact.payload.value.artifact?.parts), {
      line: "a line about rivers",
    });
    assert.equal(
      done?.payload?.$case === "statusUpdate" && done.payload.value.status?.state,
      TaskState.TASK_STATE_COMPLETED,
    );
  });

  test("a task that is dead-lettered streams to failed with the reason; tasks/get says the same", async () => {
    const events = [];
    for await (const event of client.sendMessageStream(
      ask("writer", [dataPart({ topic: "boom" })]),
    )) {
      events.push(event);
    }
    assert.deepEqual(
      events.map((e) => e.payload?.$case),
      ["task", "statusUpdate", "statusUpdate"],
      "submitted, working, failed",
    );
    const last = events.at(-1)?.payload;
    assert.ok(last?.$case === "statusUpdate");
    assert.equal(last.value.status?.state, TaskState.TASK_STATE_FAILED);
    assert.match(String(partsValue(last.value.status?.message?.parts)), /cannot write about boom/);
    const task = await client.getTask({ tenant: "", id: last.value.taskId });
    assert.equal(task.status?.state, TaskState.TASK_STATE_FAILED);
    assert.equal(task.status?.message?.metadata?.["code"], "E_DEAD_LETTERED");
  });

  test("v0.3 JSON-RPC: message/send, tasks/get, tasks/cancel (TaskNotCancelable) and message/stream (final on the last update)", async () => {
    const rpc = async (method: string, params: unknown) => {
      const response = await fetch(`${gateway.url}/a2a`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      assert.equal(response.status, 200);
      return (await response.json()) as {
        result?: V03Task;
        error?: { code: number; message: string };
      };
    };
    const sent = await rpc("message/send", {
      message: {
        kind: "message",
        messageId: "m-1",
        role: "user",
        parts: [{ kind: "data", data: { topic: "owls" } }],
        metadata: { skill: "writer.write" },
      },
    });
    assert.equal(sent.result?.kind, "task");
    assert.equal(sent.result?.status.state, "completed");
    assert.deepEqual(sent.result?.artifacts?.[0]?.parts[0]?.data, {
      line: "a line about owls",
    });
    const got = await rpc("tasks/get", { id: sent.result?.id });
    assert.equal(got.result?.status.state, "completed");
    const cancel = await rpc("tasks/cancel", { id: sent.result?.id });
    assert.equal(cancel.error?.code, -32002);
    assert.match(cancel.error?.message ?? "", /cannot be canceled/);
    const stream = await fetch(`${gateway.url}/a2a`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        authorization: `Bearer ${TOKEN}`,
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 2,
        method: "message/stream",
        params: {
          message: {
            kind: "message",
            messageId: "m-2",
            role: "user",
            parts: [{ kind: "text", text: "larks" }],
            metadata: { skill: "writer" },
          },
        },
      }),
    });
    assert.match(stream.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = (await stream.text())
      .split("\n\n")
      .filter((chunk) => chunk.startsWith("data: "))
      .map(
        (chunk) =>
          (JSON.parse(chunk.slice("data: ".length)) as { result: Record<string, unknown> }).result,
      );
    assert.deepEqual(
      events.map((e) => e["kind"]),
      ["task", "status-update", "artifact-update", "status-update"],
    );
    assert.deepEqual(events.at(-1)?.["status"], {
      ...(events.at(-1)?.["status"] as object),
      state: "completed",
    });
    assert.equal(events.at(-1)?.["final"], true);
    assert.equal(events[1]?.["final"], false);
  });

  test("refusals: no token and a wrong token (401), an oversized body (413), an unknown skill naming what is offered", async () => {
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${gateway.url}/a2a`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      });
    const message = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tasks/get",
      params: { id: "x" },
    });
    const none = await post({}, message);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, "E_UNAUTHORIZED");
    const wrong = await post({ authorization: "Bearer not-the-token-at-all" }, message);
    assert.equal(wrong.status, 401);
    const big = await post({ authorization: `Bearer ${TOKEN}` }, "x".repeat(4096));
    assert.equal(big.status, 413);
    assert.equal(
      ((await big.json()) as { error: { code: string } }).error.code,
      "E_REQUEST_TOO_LARGE",
    );
    await assert.rejects(
      client.sendMessage(ask("poet.rhyme", [textPart("hi")])),
      (error: Error) => {
        assert.match(error.message, /"poet\.rhyme" is not offered/);
        assert.match(error.message, /writer\.write, treasury\.funds\.transfer/);
        return true;
      },
    );
    const stranger = await a2aClient(gateway.cardUrl, undefined);
    await assert.rejects(stranger.sendMessage(ask("writer.write", [textPart("hi")])), /401/);
  });

  test("a privileged action needs its sealed approval: rejected by the council, approved and run", async () => {
    const refused = await client.sendMessage(
      ask("treasury.funds.transfer", [dataPart({ to: "x", amount: 5000 })]),
    );
    assert.ok("status" in refused);
    assert.equal(refused.status?.state, TaskState.TASK_STATE_REJECTED);
    assert.equal(refused.status?.message?.metadata?.["code"], "E_NOT_APPROVED");
    assert.match(refused.id, /^refused-/);
    assert.equal(
      (await client.getTask({ tenant: "", id: refused.id })).status?.state,
      TaskState.TASK_STATE_REJECTED,
    );
    assert.match(
      String(partsValue(refused.status?.message?.parts)),
      /not run: the swarm's vote ended rejected/,
    );
    const ok = await client.sendMessage(
      ask("treasury.funds.transfer", [dataPart({ to: "x", amount: 10 })]),
    );
    assert.ok("status" in ok);
    assert.equal(ok.status?.state, TaskState.TASK_STATE_COMPLETED);
    assert.deepEqual(transfers, [{ to: "x", amount: 10 }]);
  });

  test("a role's card and endpoint: a message without a skill goes to the role's task", async () => {
    const writer = await a2aClient(
      `${gateway.url}/roles/writer/.well-known/agent-card.json`,
      TOKEN,
    );
    const task = await writer.sendMessage(ask(undefined, [dataPart({ topic: "moss" })]));
    assert.ok("status" in task);
    assert.deepEqual(partsValue(task.artifacts[0]?.parts), { line: "a line about moss" });
    // The swarm's endpoint offers two tasks, so it needs to be told which.
    await assert.rejects(
      client.sendMessage(ask(undefined, [textPart("hi")])),
      /set message\.metadata\.skill/,
    );
    await assert.rejects(
      writer.sendMessage(ask("treasury.funds.transfer", [dataPart({ amount: 1 })])),
      /"treasury\.funds\.transfer" is not offered.*offered: writer\.write/,
    );
  });

  test("with gateway.tls the gateway serves HTTPS and admits a client certificate the CA signed", {
    skip: opensslAvailable() ? false : "no openssl on PATH to make certificates",
  }, async () => {
    const certs = generateCertificates();
    const secure = await startA2AGateway(swarm, {
      ...config,
      gateway: {
        ...(config.gateway as NonNullable<SwarmConfig["gateway"]>),
        tokens: {},
        tls: { cert: certs.server.certFile, key: certs.server.keyFile, ca: certs.caFile },
      },
    });
    try {
      assert.match(secure.url, /^https:/);
      const client = { cert: certs.client.cert, key: certs.client.key, ca: certs.ca };
      const card = JSON.parse(
        await httpsText(`${secure.url}/.well-known/agent-card.json`, client),
      ) as {
        securitySchemes: Record<string, unknown>;
      };
      assert.deepEqual(Object.keys(card.securitySchemes), ["mtls"]);
      const answer = JSON.parse(
        await httpsText(`${secure.url}/a2a`, client, {
          jsonrpc: "2.0",
          id: 1,
          method: "message/send",
          params: {
            message: {
              kind: "message",
              messageId: "m-tls",
              role: "user",
              parts: [{ kind: "data", data: { topic: "locks" } }],
              metadata: { skill: "writer.write" },
            },
          },
        }),
      ) as { result: V03Task };
      assert.equal(answer.result.status.state, "completed");
      assert.equal(callers.at(-1), "cert:conclave-client");
      // Without tokens, a client without a certificate does not get past the TLS handshake.
      await assert.rejects(httpsText(`${secure.url}/a2a`, { ca: certs.ca }, {}));
    } finally {
      await secure.close();
      certs.cleanup();
    }
  });

  test("a task the gateway's agent cannot pay for is refused before anything is sent", async () => {
    const dear = await startA2AGateway(swarm, {
      ...config,
      gateway: {
        ...(config.gateway as NonNullable<SwarmConfig["gateway"]>),
        pricePerTask: 1_000_000,
      },
    });
    try {
      const poor = await a2aClient(dear.cardUrl, TOKEN);
      const before = callers.length;
      await assert.rejects(
        poor.sendMessage(ask("writer.write", [dataPart({ topic: "gold" })])),
        (error: Error & { data?: { metadata?: Record<string, string> }[] }) => {
          assert.match(
            error.message,
            /account "agent:gate" holds \d+ credits and the operation needs 1000000/,
          );
          assert.equal(error.data?.[0]?.metadata?.["code"], "E_INSUFFICIENT_CREDITS");
          return true;
        },
      );
      assert.equal(callers.length, before, "nothing ran");
    } finally {
      await dear.close();
    }
  });

  test("the rate limit answers 429 with Retry-After", async () => {
    const limited = await startA2AGateway(swarm, {
      ...config,
      gateway: { ...(config.gateway as NonNullable<SwarmConfig["gateway"]>), ratePerMinute: 2 },
    });
    try {
      const call = () =>
        fetch(`${limited.url}/a2a`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tasks/get", params: { id: "x" } }),
        });
      assert.equal((await call()).status, 200);
      assert.equal((await call()).status, 200);
      const third = await call();
      assert.equal(third.status, 429);
      assert.ok(Number(third.headers.get("retry-after")) >= 1);
    } finally {
      await limited.close();
    }
  });
});

/** GETs (or POSTs `body` as JSON to) `url` over HTTPS with client TLS options; the response's text. */
function httpsText(url: string, tls: Record<string, string>, body?: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/json" },
        ...tls,
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          text += d.toString();
        });
        res.on("end", () => resolve(text));
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
