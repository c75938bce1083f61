/**
 * `ctx.gather`: fan out to several children and join them durably. A lead
 * asks three researchers; one question is impossible (dead-lettered: a
 * result of the join, not an error), one is slow. The lead's node stops
 * mid-join and starts again on the same store and journal: the children
 * that finished are not run again, the join picks up where it was, and the
 * lead finishes with every child's outcome in order.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { PermanentError } from "../../src/errors/index.js";
import type { Gathered } from "../../src/runtime/context.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { until } from "../helpers/until.js";

const work = mkdtempSync(join(tmpdir(), "conclave-gather-"));
after(() => rmSync(work, { recursive: true, force: true }));

const config = parseSwarmConfig(
  `swarm: gather
dataDir: ./data
defaults: { maxDeliver: 3, ackWaitMs: 2000, backoff: { baseMs: 5, maxMs: 20 } }
roles: { lead: { tasks: [ask] }, researcher: { tasks: [answer] } }
agents:
  - { id: lead, role: lead }
  - { id: r-1, role: researcher, concurrency: 4 }
`,
  { baseDir: work },
);

const ran = new Map<string, number>();
let slowMayAnswer = false;
let joined: Gathered<string>[] | undefined;

function open(): Promise<Swarm> {
  return openSwarm(config, {
    module: {
      setup(agent) {
        agent.handle<{ q: string }>("answer", async (ctx) => {
          ran.set(ctx.body.q, (ran.get(ctx.body.q) ?? 0) + 1);
          if (ctx.body.q === "impossible") throw new PermanentError("no source answers this");
          if (ctx.body.q === "slow") {
            await until(() => slowMayAnswer || ctx.signal.aborted, 30_000, "leave to answer");
            if (ctx.signal.aborted) throw new Error("stopped");
          }
          return `answer to ${ctx.body.q}`;
        });
        agent.handle<{ qs: string[] }>("ask", async (ctx) => {
          joined = await ctx.gather<string>(
            ctx.body.qs.map((q) => ({ role: "researcher", task: "answer", body: { q } })),
          );
          ctx.finish(joined.map((g) => g.status));
        });
      },
    },
  });
}

test("a join survives its caller's restart: finished children are neither run nor awaited again", async () => {
  let swarm = await open();
  await swarm.start();
  const id = await swarm.submit(
    "lead",
    "ask",
    { qs: ["fast", "impossible", "slow"] },
    { as: "lead" },
  );
  await until(() => ran.get("fast") === 1 && ran.get("slow") === 1, 10_000, "the fan-out");
  await until(
    async () => (await swarm.store.deadLetters()).some((d) => d.reason.includes("no source")),
    10_000,
    "the impossible question to die",
  );
  // The lead's node stops in the middle of the join.
  await swarm.close();
  slowMayAnswer = true;
  swarm = await open();
  await swarm.start();
  await until(async () => (await swarm.result(id)) !== undefined, 20_000, "the join to finish");
  assert.deepEqual((await swarm.result(id))?.data, ["completed", "dead_lettered", "completed"]);
  assert.equal(joined?.[0]?.status === "completed" && joined[0].result, "answer to fast");
  assert.match(
    joined?.[1]?.status === "dead_lettered" ? joined[1].reason : "",
    /no source answers this/,
  );
  // Each child ran once for good: the fast one never again; the slow one again only because it was cut off.
  assert.equal(ran.get("fast"), 1);
  assert.equal(ran.get("impossible"), 1);
  assert.ok((ran.get("slow") ?? 0) <= 2);
  await swarm.close();
});
