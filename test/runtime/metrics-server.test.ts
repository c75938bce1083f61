/**
 * The Prometheus endpoint over real HTTP, its output parsed as the text
 * exposition format: every sample belongs to a declared family, labels are
 * well formed, counters and histograms move with the work, balances are read
 * from the store at each scrape; and `conclave up --metrics 0` serves it
 * while a swarm runs.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { serveMetrics } from "../../src/runtime/metrics-server.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { finish, root, start } from "../cli/run-cli.js";
import { answer, startOpenAiServer, toolCalls } from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses the text exposition format strictly enough to catch malformed output. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type =
      /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      assert.ok(!types.has(type[1] as string), `family ${type[1]} declared twice`);
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    assert.ok(!line.startsWith("#") || line.startsWith("# HELP"), `unexpected comment: ${line}`);
    if (line.startsWith("#")) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[+-]Inf|NaN)$/i.exec(
      line,
    );
    assert.ok(sample, `malformed sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (sample[2] ?? "").match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const eq = pair.indexOf("=");
      labels[pair.slice(0, eq)] = JSON.parse(pair.slice(eq + 1)) as string;
    }
    const name = sample[1] as string;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(family), `sample ${name} has no # TYPE`);
    samples.push({ name, labels, value: Number(sample[3]) });
  }
  return { types, samples };
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);

describe("metrics endpoint", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test("a scrape parses, and tasks, durations and balances move with the work", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["code"] } },
      defaults: {
        heartbeatMs: 50,
        ackWaitMs: 2000,
        maxDeliver: 2,
        backoff: { baseMs: 5, maxMs: 10, factor: 2, jitter: "none" },
      },
    });
    cleanups.push(() => t.cleanup());
    const { swarm } = t;
    let done = 0;
    swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
    swarm.agent({ id: "dev-1", role: "dev" }).handle("code", (ctx) => {
      if ((ctx.body as { fail?: boolean }).fail) throw new Error("no");
      done++;
    });
    await swarm.start();
    const server = await serveMetrics(swarm, { port: 0 });
    cleanups.push(() => server.close());
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    for (let i = 0; i < 5; i++) await swarm.submit("dev", "code", { i }, { as: "lead" });
    await swarm.submit("dev", "code", { fail: true }, { as: "lead" });
    await until(
      async () => done === 5 && (await swarm.metrics.total("conclave_dead_letters_total")) === 1,
      10_000,
      "the work",
    );

    const response = await fetch(server.url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/plain; version=0\.0\.4/);
    const { types, samples } = parseExposition(await response.text());
    assert.equal(types.get("conclave_tasks_total"), "counter");
    // The process's standard metrics come with every scrape.
    assert.equal(types.get("process_cpu_seconds_total"), "counter");
    assert.equal(types.get("nodejs_eventloop_lag_seconds"), "gauge");
    assert.equal(types.get("conclave_task_duration_seconds"), "histogram");
    assert.equal(types.get("conclave_agent_balance_credits"), "gauge");
    assert.equal(
      value(samples, "conclave_tasks_total", { role: "dev", task: "code", outcome: "completed" }),
      5,
    );
    assert.equal(value(samples, "conclave_task_duration_seconds_count", { task: "code" }), 5);
    const buckets = samples.filter((s) => s.name === "conclave_task_duration_seconds_bucket");
    for (let i = 1; i < buckets.length; i++) {
      assert.ok((buckets[i]?.value ?? 0) >= (buckets[i - 1]?.value ?? 0), "cumulative buckets");
    }
    assert.equal(buckets.at(-1)?.labels["le"], "+Inf");
    assert.equal(value(samples, "conclave_dead_letters_total", { reason: "max_deliver" }), 1);
    assert.equal(value(samples, "conclave_agent_balance_credits", { agent: "lead" }), 1000);
    // Queue depths as the broker reports them: the work queue drained, nothing in flight.
    assert.equal(types.get("conclave_queue_depth"), "gauge");
    assert.equal(value(samples, "conclave_queue_depth", { queue: `${swarm.name}-task-dev` }), 0);
    assert.equal(
      value(samples, "conclave_queue_in_flight", { queue: `${swarm.name}-task-dev` }),
      0,
    );
    assert.equal((await fetch(server.url.replace("/metrics", "/other"))).status, 404);
  });

  test("conclave up --metrics 0 serves LLM tokens and cost while the swarm runs", async () => {
    let slow = true;
    const model = await startOpenAiServer({
      responder: (request) => {
        const messages = request.body.messages ?? [];
        const system = String(messages.find((m) => m.role === "system")?.content ?? "");
        if (system.includes("You plan research"))
          return answer(JSON.stringify({ subquestions: ["a", "b"] }));
        if (system.includes("You review research")) {
          return answer(JSON.stringify({ approved: true, answer: "ok" }), {
            delayMs: slow ? 3000 : 0,
          });
        }
        if (!messages.some((m) => m.role === "tool"))
          return toolCalls([{ name: "search_web", arguments: { query: "q" } }]);
        return answer("finding", { usage: { prompt: 100, completion: 10 } });
      },
    });
    cleanups.push(() => model.close());
    const dir = mkdtempSync(join(tmpdir(), "conclave-metrics-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    cpSync(join(root, "examples", "research-swarm"), dir, { recursive: true });
    const child = start(
      ["up", join(dir, "swarm.yaml"), "--tasks", "1", "--metrics", "0", "--timeout", "60"],
      dir,
      {
        OPENAI_BASE_URL: model.url,
        CONCLAVE_MODEL: "test-model",
      },
    );
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = finish(child);
    await until(
      () => /metrics: (http\S+)/.test(stderr) && model.requests.length >= 6,
      30_000,
      "the reviewer's call",
    );
    const url = /metrics: (http\S+)/.exec(stderr)?.[1] as string;
    const { samples } = parseExposition(await (await fetch(url)).text());
    assert.ok(value(samples, "conclave_llm_calls_total", { replayed: "false" }) >= 5);
    assert.ok(
      value(samples, "conclave_llm_tokens_total", { model: "local", kind: "input" }) >= 200,
    );
    assert.ok(value(samples, "conclave_llm_cost_credits_total", { model: "local" }) > 0);
    slow = false;
    const run = await exited;
    assert.equal(run.code, 0, run.stderr.slice(-1000));
  });
});
