/**
 * OpenTelemetry traces in one process: an SDK's tracer provider (the trace
 * base's in-memory exporter) registered as a user would, then a task, its
 * child task, a model call (over real HTTP to the local OpenAI-compatible
 * server) and a consensus round, checked span by span: names, kinds,
 * parent links, one trace id, and the messaging and GenAI attributes.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { compilePolicy } from "../../src/consensus/index.js";
import {
  formatTraceparent,
  parseTraceparent,
  remoteContext,
} from "../../src/runtime/trace-context.js";
import { setTracingEnabled } from "../../src/runtime/tracing.js";
import { createTestSwarm, type TestSwarm } from "../../src/testkit/index.js";
import type { Envelope } from "../../src/wire/envelope.js";
import {
  answer,
  httpError,
  type OpenAiServer,
  startOpenAiServer,
} from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { model, PRICES, pool } from "../llm/fixtures.js";

const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 5000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

function spans(): readonly ReadableSpan[] {
  return exporter.getFinishedSpans();
}

function one(name: string, where: (span: ReadableSpan) => boolean = () => true): ReadableSpan {
  const found = spans().filter((span) => span.name === name && where(span));
  assert.equal(found.length, 1, `one span "${name}"; spans: ${spans().map((s) => s.name)}`);
  return found[0] as ReadableSpan;
}

function assertChild(child: ReadableSpan, parent: ReadableSpan): void {
  assert.equal(child.spanContext().traceId, parent.spanContext().traceId, `${child.name}: trace`);
  assert.equal(
    child.parentSpanContext?.spanId,
    parent.spanContext().spanId,
    `${child.name} is a child of ${parent.name}`,
  );
}

describe("W3C trace context in envelope headers", () => {
  test("traceparent: parsed and formatted; malformed values give no parent", () => {
    const value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const parsed = parseTraceparent(value);
    assert.deepEqual(parsed, {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 1,
      isRemote: true,
    });
    assert.equal(formatTraceparent(parsed as NonNullable<typeof parsed>), value);
    // A later version's first four fields are read as version 00's.
    assert.equal(parseTraceparent(`01${value.slice(2)}-extra`)?.spanId, "00f067aa0ba902b7");
    for (const bad of [
      "",
      "junk",
      `ff${value.slice(2)}`,
      `${value}-extra`,
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    ]) {
      assert.equal(parseTraceparent(bad), undefined, bad);
    }
    const context = remoteContext({ traceparent: value, tracestate: "congo=t61rcWkgMzE" });
    assert.equal(trace.getSpanContext(context)?.traceState?.get("congo"), "t61rcWkgMzE");
    assert.equal(trace.getSpanContext(remoteContext({ traceparent: "junk" })), undefined);
  });
});

describe("spans of a swarm in one process", () => {
  let server: OpenAiServer;
  const swarms: TestSwarm[] = [];
  before(async () => {
    trace.setGlobalTracerProvider(provider);
    server = await startOpenAiServer();
  });
  beforeEach(() => exporter.reset());
  after(async () => {
    for (const t of swarms) await t.cleanup();
    await server.close();
    await provider.shutdown();
    trace.disable();
  });

  test("a task, its child task and a model call: one trace, parent links, messaging and GenAI attributes", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, front: { tasks: ["step"] }, back: { tasks: ["finish"] } },
      defaults,
      prices: PRICES,
      models: pool([model("fast", server.url)]),
    });
    swarms.push(t);
    const { swarm } = t;
    server.reply(answer("planned", { usage: { prompt: 40, completion: 8 } }));
    const received: Envelope[] = [];
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({ id: "front-1", role: "front", llm: { settings: { model: "fast" } } })
      .handle("step", async (ctx) => {
        const plan = await ctx.llm.generate({ prompt: "plan it", maxOutputTokens: 64 });
        ctx.submit("back", "finish", { plan: plan.text });
      });
    swarm.agent({ id: "back-1", role: "back" }).handle("finish", (ctx) => {
      received.push(ctx.task as Envelope);
      ctx.finish();
    });
    await swarm.start();
    const id = await swarm.submit("front", "step", { n: 1 }, { as: "lead" });
    await until(
      () => spans().filter((s) => s.name.startsWith("process")).length === 2,
      10_000,
      "both tasks handled",
    );

    const sendStep = one("send test.task.front.step");
    const processStep = one("process test.task.front.step");
    const chat = one("chat test-model");
    const sendFinish = one("send test.task.back.finish");
    const processFinish = one("process test.task.back.finish");

    assert.equal(sendStep.parentSpanContext, undefined, "submitted outside a span: a new trace");
    assertChild(processStep, sendStep);
    assertChild(chat, processStep);
    assertChild(sendFinish, processStep);
    assertChild(processFinish, sendFinish);

    assert.equal(sendStep.kind, SpanKind.PRODUCER);
    assert.deepEqual(sendStep.attributes, {
      "messaging.system": "memory",
      "messaging.destination.name": "test.task.front.step",
      "messaging.operation.type": "send",
      "messaging.operation.name": "send",
      "messaging.message.id": id,
    });
    assert.equal(processStep.kind, SpanKind.CONSUMER);
    assert.equal(processStep.attributes["messaging.operation.type"], "process");
    assert.equal(processStep.attributes["messaging.destination.name"], "test.task.front.step");
    assert.equal(processStep.attributes["messaging.message.id"], id);
    assert.equal(processStep.attributes["conclave.agent.id"], "front-1");
    assert.equal(processStep.attributes["conclave.delivery.attempt"], 1);
    assert.equal(processStep.status.code, SpanStatusCode.UNSET);

    assert.equal(chat.kind, SpanKind.CLIENT);
    const url = new URL(server.url);
    assert.deepEqual(
      { ...chat.attributes },
      {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "test-model",
        "gen_ai.request.max_tokens": 64,
        "gen_ai.response.model": "test-model",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": 40,
        "gen_ai.usage.output_tokens": 8,
        "conclave.llm.model": "fast",
        "conclave.llm.answered_by": "fast",
        "conclave.llm.cost": 40 + 2 * 8,
        "server.address": url.hostname,
        "server.port": Number(url.port),
      },
    );

    // The child task's envelope carries its send span's context, signed with it.
    const child = received[0] as Envelope;
    assert.equal(
      child.headers?.["traceparent"],
      formatTraceparent(sendFinish.spanContext()),
      "the envelope's traceparent is the send span",
    );
    assert.equal(sendFinish.attributes["messaging.message.id"], child.id);
  });

  test("a failing handler: its process span is an error; the retry is a second child of the same send", async () => {
    const t = createTestSwarm({ roles: { lead: {}, work: { tasks: ["flaky"] } }, defaults });
    swarms.push(t);
    const { swarm } = t;
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "w-1", role: "work" }).handle("flaky", (ctx) => {
      if (ctx.attempt === 1) throw new Error("not this time");
    });
    await swarm.start();
    await swarm.submit("work", "flaky", {}, { as: "lead" });
    const name = "process test.task.work.flaky";
    await until(() => spans().filter((s) => s.name === name).length === 2, 5000, "the retry");
    const send = one("send test.task.work.flaky");
    const failed = one(name, (s) => s.attributes["conclave.delivery.attempt"] === 1);
    const retried = one(name, (s) => s.attributes["conclave.delivery.attempt"] === 2);
    assertChild(failed, send);
    assertChild(retried, send);
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.equal(failed.status.message, "not this time");
    assert.equal(failed.attributes["error.type"], "Error");
    assert.equal(failed.events[0]?.name, "exception");
    assert.equal(retried.status.code, SpanStatusCode.UNSET);
  });

  test("a model call the server refuses: its span is an error with the error's code", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, ask: { tasks: ["question"], maxDeliver: 1 } },
      defaults,
      prices: PRICES,
      models: pool([model("fast", server.url)]),
    });
    swarms.push(t);
    const { swarm } = t;
    server.reply(httpError(400));
    const failures: unknown[] = [];
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({ id: "asker", role: "ask", llm: { settings: { model: "fast" } } })
      .handle("question", async (ctx) => {
        try {
          await ctx.llm.generate({ prompt: "?" });
        } catch (error) {
          failures.push(error);
          throw error;
        }
      });
    await swarm.start();
    await swarm.submit("ask", "question", {}, { as: "lead" });
    const name = "process test.task.ask.question";
    await until(() => spans().some((s) => s.name === name), 5000, "the failed task");
    const chat = one("chat test-model");
    assertChild(chat, one(name));
    assert.equal(chat.status.code, SpanStatusCode.ERROR);
    assert.equal(chat.attributes["error.type"], "E_MODEL_REQUEST");
    assert.equal(chat.attributes["gen_ai.usage.input_tokens"], undefined, "no usage: no answer");
    assert.equal(one(name).status.code, SpanStatusCode.ERROR);
    assert.equal(failures.length, 1);
  });

  test("a consensus round from a handler: the proposer's send span and the voters' process span, in the task's trace", async () => {
    const t = createTestSwarm({
      roles: { lead: { tasks: ["pay"] }, finance: {} },
      defaults,
      privileged: {
        "funds.transfer": { protocol: "quorum", threshold: { fraction: 0.5 }, deadlineMs: 2000 },
      },
    });
    swarms.push(t);
    const { swarm } = t;
    const approve = compilePolicy({ rules: [], default: "approve" });
    const outcomes: string[] = [];
    swarm.agent({ id: "finance-1", role: "finance", policy: approve });
    swarm.agent({ id: "finance-2", role: "finance", policy: approve });
    swarm.agent({ id: "lead-1", role: "lead", policy: approve }).handle("pay", async (ctx) => {
      const decision = await ctx.propose({ action: "funds.transfer", data: { amount: 5 } });
      outcomes.push(decision.outcome);
    });
    await swarm.start();
    await swarm.submit("lead", "pay", {}, { as: "lead-1" });
    await until(() => outcomes.length === 1, 5000, "the decision");
    const subject = "test.consensus.proposal";
    await until(
      () => spans().some((s) => s.name === "process test.task.lead.pay"),
      2000,
      "the task's span",
    );
    const task = one("process test.task.lead.pay");
    const round = one(`send ${subject}`);
    const voting = one(`process ${subject}`);
    assertChild(round, task);
    assertChild(voting, round);
    assert.equal(round.kind, SpanKind.PRODUCER);
    assert.equal(round.attributes["messaging.system"], "memory");
    assert.equal(round.attributes["messaging.destination.name"], subject);
    assert.equal(round.attributes["messaging.operation.type"], "send");
    assert.equal(typeof round.attributes["messaging.message.id"], "string");
    assert.equal(round.attributes["conclave.consensus.action"], "funds.transfer");
    assert.equal(round.attributes["conclave.consensus.protocol"], "quorum");
    assert.equal(round.attributes["conclave.consensus.outcome"], "approved");
    assert.equal(voting.kind, SpanKind.CONSUMER);
    assert.equal(voting.attributes["messaging.operation.type"], "process");
    assert.equal(voting.attributes["messaging.destination.name"], subject);
    // The round lasts until the decision; the task until after it.
    assert.ok(round.ended && task.ended);
  });

  test("an auctioned task: the award the winner handles continues the submitted task's trace", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review"] } },
      defaults,
      tasks: {
        review: {
          allocation: "auction",
          role: "dev",
          auction: {
            rule: "vickrey",
            side: "procurement",
            reserve: 50,
            roundMs: 300,
            maxRounds: 3,
            criteria: [],
            onUnsold: "dead-letter",
          },
        },
      },
    });
    swarms.push(t);
    const { swarm } = t;
    const handled: Envelope[] = [];
    swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
    for (const [id, ask] of [
      ["cheap", 20],
      ["dear", 40],
    ] as const) {
      swarm
        .agent({ id, role: "dev" })
        .bid(() => ({ price: ask }))
        .handle("review", (ctx) => {
          handled.push(ctx.task as Envelope);
        });
    }
    await swarm.start();
    await until(
      () => ["cheap", "dear"].every((id) => swarm.registry.get(id)?.liveness === "alive"),
      5000,
      "the bidders alive (bids come only from live agents)",
    );
    await swarm.submit("dev", "review", { pr: 7 }, { as: "lead" });
    await until(() => handled.length === 1, 10_000, "the winner handles the task");
    const award = handled[0] as Envelope;
    assert.equal(award.from, "lead", "the auctioneer signs the award");
    assert.ok(award.headers?.["conclave-auction"], "an awarded task");
    await until(
      () => spans().some((s) => s.name.startsWith("process test.market.task.")),
      2000,
      "the award's process span",
    );
    const submitted = one("send test.market.request.dev.review");
    const sendAward = one("send test.market.task.cheap.review");
    const processAward = one("process test.market.task.cheap.review");
    assertChild(sendAward, submitted);
    assertChild(processAward, sendAward);
    assert.equal(award.headers?.["traceparent"], formatTraceparent(sendAward.spanContext()));
    assert.equal(sendAward.attributes["messaging.message.id"], award.id);
  });

  test("tracing turned off: no span, no trace header", async () => {
    const t = createTestSwarm({ roles: { lead: {}, work: { tasks: ["job"] } }, defaults });
    swarms.push(t);
    const { swarm } = t;
    const headers: unknown[] = [];
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "w-1", role: "work" }).handle("job", (ctx) => {
      headers.push(ctx.task.headers);
    });
    setTracingEnabled(false);
    try {
      await swarm.start();
      await swarm.submit("work", "job", {}, { as: "lead" });
      await until(() => headers.length === 1, 5000, "the task");
    } finally {
      setTracingEnabled(true);
    }
    // Only the run id (run-identity.ts) and the swarm: no trace context.
    assert.deepEqual(
      headers.map((h) => Object.keys((h ?? {}) as object)),
      [["conclave-run", "conclave-swarm"]],
    );
    assert.deepEqual(
      spans().filter((s) => s.name.includes("work.job")),
      [],
    );
  });
});
