/**
 * One trace across three OS processes on a private nats-server, each with
 * its own OpenTelemetry SDK registered by a preload (`node --import …`), as
 * a user would: process A (`conclave up --agents lead`) submits a task,
 * process B (`conclave agent --id front-1`) handles it and submits a child
 * task, process C (`conclave agent --id back-1`) handles the child. Each
 * process writes its finished spans to its own file; the test reads the
 * three files and checks one trace id and the parent links across them.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { finish, root, start, summaryOf } from "../cli/run-cli.js";
import { randomSwarmName } from "./fixtures/processes.js";

const bin = join(root, "src", "cli", "bin.ts");
const tsx = import.meta.resolve("tsx");
const preload = join(import.meta.dirname, "fixtures", "otel-preload.mjs");

interface SpanLine {
  readonly pid: number;
  readonly name: string;
  readonly kind: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly parentIsRemote: boolean;
  readonly attributes: Record<string, unknown>;
}

const HANDLERS = `
export function setup(agent, { workload }) {
  const tasks = Number(workload.tasks ?? 1);
  switch (agent.role) {
    case "lead":
      agent.onStart((ctx) =>
        ctx.once(\`plan-\${tasks}\`, (plan) => {
          for (let n = 0; n < tasks; n++) plan.submit("front", "step", { n });
        }),
      );
      break;
    case "front":
      agent.handle("step", (ctx) => {
        ctx.submit("back", "finish", ctx.body);
      });
      break;
    case "back":
      agent.handle("finish", (ctx) => {
        ctx.finish();
      });
      break;
  }
}
`;

function swarmFile(name: string): string {
  return `swarm: ${name}
module: ./handlers.mjs
defaults: { ackWaitMs: 2000, maxDeliver: 4, concurrency: 4, backoff: { baseMs: 10, maxMs: 100 }, heartbeatMs: 200 }
roles:
  lead: {}
  front: { tasks: [step] }
  back: { tasks: [finish] }
agents:
  - { id: lead, role: lead }
  - { id: front-1, role: front }
  - { id: back-1, role: back }
workload: { tasks: 1 }
`;
}

/** `conclave <args>` with the tracing preload, its spans going to `spans`. */
function traced(args: string[], cwd: string, spans: string): ChildProcess {
  return spawn(process.execPath, ["--import", tsx, "--import", preload, bin, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", CONCLAVE_TEST_SPANS_FILE: spans },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function read(file: string): SpanLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as SpanLine);
}

function only(spans: readonly SpanLine[], name: string, where: string): SpanLine {
  const found = spans.filter((span) => span.name === name);
  assert.equal(found.length, 1, `${where}: one "${name}" in ${spans.map((s) => s.name)}`);
  return found[0] as SpanLine;
}

/** Spans files of the three processes; `undefined` for a process run without an SDK. */
interface Spans {
  readonly a: SpanLine[];
  readonly b: SpanLine[] | undefined;
  readonly c: SpanLine[];
  readonly swarm: string;
  readonly stderr: { readonly b: string; readonly c: string };
}

describe("traces across processes (nats)", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-tracing-"));
  let broker: NatsServer | undefined;
  after(async () => {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs A (`up --agents lead`), B (front-1) and C (back-1); B without an SDK when `bTraced` is false. */
  async function threeProcesses(name: string, bTraced: boolean): Promise<Spans> {
    broker ??= await startNatsServer();
    const swarm = randomSwarmName(name);
    const here = join(dir, name);
    mkdirSync(here);
    const file = join(here, "swarm.yaml");
    writeFileSync(file, swarmFile(swarm));
    writeFileSync(join(here, "handlers.mjs"), HANDLERS);
    const common = ["--transport", broker.url, "--store", `sqlite:${join(here, "shared.db")}`];
    const files = { a: join(here, "a.jsonl"), b: join(here, "b.jsonl"), c: join(here, "c.jsonl") };
    const bArgs = ["agent", "--swarm", file, "--id", "front-1", ...common];
    const b = bTraced ? traced(bArgs, here, files.b) : start(bArgs, here);
    const c = traced(["agent", "--swarm", file, "--id", "back-1", ...common], here, files.c);
    const bDone = finish(b);
    const cDone = finish(c);
    try {
      const run = await finish(
        traced(
          ["up", file, "--agents", "lead", "--json", "--timeout", "60", ...common],
          here,
          files.a,
        ),
      );
      assert.equal(run.code, 0, run.stderr.slice(-2000));
      const summary = summaryOf(run.stdout);
      assert.equal(summary.tasks.submitted, 1);
      assert.equal(summary.tasks.completed, 1);
    } finally {
      b.kill("SIGTERM");
      c.kill("SIGTERM");
    }
    const [bRun, cRun] = await Promise.all([bDone, cDone]);
    return {
      a: read(files.a),
      b: bTraced ? read(files.b) : undefined,
      c: read(files.c),
      swarm,
      stderr: { b: bRun.stderr, c: cRun.stderr },
    };
  }

  test("a task crossing three processes is one trace: A's send, B's process and send, C's process", async (t) => {
    if (!natsServerAvailable() && process.env["CI"] !== "true") {
      t.skip("no nats-server binary on PATH");
      return;
    }
    const spans = await threeProcesses("tracing", true);
    const b = spans.b ?? [];
    const stepSubject = `${spans.swarm}.task.front.step`;
    const finishSubject = `${spans.swarm}.task.back.finish`;
    const sendStep = only(spans.a, `send ${stepSubject}`, "process A");
    const processStep = only(b, `process ${stepSubject}`, `process B (${spans.stderr.b})`);
    const sendFinish = only(b, `send ${finishSubject}`, "process B");
    const processFinish = only(
      spans.c,
      `process ${finishSubject}`,
      `process C (${spans.stderr.c})`,
    );

    // Three processes, one trace.
    assert.equal(new Set([sendStep.pid, processStep.pid, processFinish.pid]).size, 3);
    for (const span of [processStep, sendFinish, processFinish]) {
      assert.equal(span.traceId, sendStep.traceId, `${span.name} is in A's trace`);
    }
    assert.equal(sendStep.parentSpanId, undefined, "the root task starts the trace");
    assert.equal(processStep.parentSpanId, sendStep.spanId, "B's handling is a child of A's send");
    assert.ok(processStep.parentIsRemote);
    assert.equal(
      sendFinish.parentSpanId,
      processStep.spanId,
      "B's child task is sent in its handling",
    );
    assert.equal(
      processFinish.parentSpanId,
      sendFinish.spanId,
      "C's handling is a child of B's send",
    );
    assert.ok(processFinish.parentIsRemote);
    assert.equal(sendStep.attributes["messaging.system"], "nats");
    assert.equal(processFinish.attributes["messaging.operation.type"], "process");
    assert.equal(processFinish.attributes["conclave.agent.id"], "back-1");
  });

  test("a process without an SDK passes the trace on: C's handling joins A's trace through B", async (t) => {
    if (!natsServerAvailable() && process.env["CI"] !== "true") {
      t.skip("no nats-server binary on PATH");
      return;
    }
    const spans = await threeProcesses("tracing-gap", false);
    const sendStep = only(spans.a, `send ${spans.swarm}.task.front.step`, "process A");
    const processFinish = only(
      spans.c,
      `process ${spans.swarm}.task.back.finish`,
      `process C (${spans.stderr.c})`,
    );
    assert.equal(processFinish.traceId, sendStep.traceId, "one trace despite B");
    // B recorded nothing: its child task names the nearest recorded span, A's send.
    assert.equal(processFinish.parentSpanId, sendStep.spanId);
  });
});
