/**
 * Hierarchical delegation in one process: a director delegates to its team
 * (one lead), the lead to its own (two researchers); the lead's tasks reach
 * its members only, never the researchers of another team or of none. A
 * non-lead that delegates to a team gets `NotTeamLeadError` saying what to
 * do, and the registry shows who is in which team under whom.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { renderTop } from "../../src/cli/top.js";
import { parseSwarmConfig } from "../../src/config/load.js";
import { systemClock } from "../../src/core/clock.js";
import { DashboardApi } from "../../src/dashboard/api.js";
import { ConfigError } from "../../src/errors/index.js";
import { NotTeamLeadError } from "../../src/errors/teams.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import { signedMessage } from "../../src/runtime/messages.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { TeamBook } from "../../src/runtime/teams.js";
import { until } from "../helpers/until.js";

const work = mkdtempSync(join(tmpdir(), "conclave-teams-"));
const config = parseSwarmConfig(
  `swarm: teams
dataDir: ./data
defaults: { heartbeatMs: 100, maxDeliver: 2, backoff: { baseMs: 5, maxMs: 20 } }
roles:
  director: { tasks: [plan] }
  lead: { tasks: [research] }
  coordinator: { tasks: [meddle] }
  researcher: { tasks: [investigate, overreach] }
agents:
  - { id: boss, role: director }
  - { id: lead-1, role: lead }
  - { id: lead-2, role: coordinator }
  - { id: r-1, role: researcher, concurrency: 4 }
  - { id: r-2, role: researcher, concurrency: 4 }
  - { id: r-3, role: researcher, concurrency: 4 }
  - { id: r-4, role: researcher, concurrency: 4 }
teams:
  org: { lead: boss, members: [lead-1] }
  research: { lead: lead-1, members: [r-1, r-2] }
  other: { lead: lead-2, members: [r-3] }
`,
  { baseDir: work },
);

/** Who investigated which question. */
const investigatedBy = new Map<string, string>();
const refusals: unknown[] = [];
let swarm: Swarm;

before(async () => {
  swarm = await openSwarm(config, {
    module: {
      setup(agent) {
        agent.handle<{ topic: string }>("plan", async (ctx) => {
          // The director's team has one member of role lead: the task names it.
          const found = await ctx.team().call<string[]>("research", { topic: ctx.body.topic });
          ctx.finish(found);
          return found;
        });
        agent.handle<{ topic: string }>("research", async (ctx) => {
          const parts = await ctx.team().gather<string>(
            Array.from({ length: 12 }, (_, i) => ({
              task: "investigate",
              body: { q: `${ctx.body.topic}-${i}` },
            })),
          );
          return parts.map((p) => (p.status === "completed" ? p.result : p.reason));
        });
        agent.handle<{ q: string }>("investigate", async (ctx) => {
          await new Promise((r) => setTimeout(r, 5));
          investigatedBy.set(ctx.body.q, ctx.agentId);
          return `${ctx.body.q} by ${ctx.agentId}`;
        });
        agent.handle("meddle", async (ctx) => {
          // lead-2 leads "other", not "research".
          try {
            ctx.team("research");
          } catch (error) {
            refusals.push(error);
          }
          ctx.finish();
        });
        agent.handle("overreach", async (ctx) => {
          // A researcher leads nothing: the escaping error dead-letters the task at once.
          await ctx.call("researcher", "investigate", { q: "sneaky" }, { team: "research" });
        });
      },
    },
  });
  await swarm.start();
});

after(async () => {
  await swarm.close();
  rmSync(work, { recursive: true, force: true });
});

test("a lead's delegations reach its own team's members only, nested under the director", async () => {
  const found = await swarm.submitAndWait("director", "plan", { topic: "t" }, { as: "boss" });
  assert.equal((found as string[]).length, 12);
  assert.equal(investigatedBy.size, 12);
  const who = new Set(investigatedBy.values());
  for (const id of who) assert.ok(["r-1", "r-2"].includes(id), `${id} is not in team research`);
  const queued = await swarm.queues();
  assert.ok(
    queued.some((q) => q.name === "teams-team-research_researcher"),
    `the team's queue is declared: ${queued.map((q) => q.name).join(", ")}`,
  );
});

test("a non-lead gets NotTeamLeadError, which says what to do", async () => {
  await swarm.submitAndWait("coordinator", "meddle", {}, { as: "lead-2" });
  await until(() => refusals.length > 0, 10_000, "lead-2's refusal");
  const error = refusals[0];
  assert.ok(error instanceof NotTeamLeadError, String(error));
  assert.equal(error.code, "E_NOT_TEAM_LEAD");
  assert.match(
    error.message,
    /agent "lead-2" cannot delegate to team "research": its lead is "lead-1" and it leads "other"; submit to the role's queue instead/,
  );

  const id = await swarm.submit("researcher", "overreach", {}, { as: "boss" });
  await until(
    async () => (await swarm.store.deadLetters()).some((d) => d.id === id),
    10_000,
    "the overreaching task to die",
  );
  const dead = (await swarm.store.deadLetters()).find((d) => d.id === id);
  assert.match(dead?.reason ?? "", /E_NOT_TEAM_LEAD|cannot delegate to team "research"/);
  assert.ok(!investigatedBy.has("sneaky"), "nothing was delegated");
});

test("a task published on a team's subject by anyone but its lead is dead-lettered by the member", async () => {
  const r4 = swarm.agents.find((a) => a.id === "r-4");
  assert.ok(r4);
  // What a client that skips the sender's check would send: signed, but not by the lead.
  const { envelope, entry } = signedMessage(
    {
      swarm: swarm.name,
      clock: systemClock,
      maxEnvelopeBytes: 1 << 20,
      transportKind: swarm.transport.kind,
    },
    r4.signer,
    {
      mode: "enqueue",
      subject: "teams.team.research.researcher.investigate",
      type: "task.investigate",
      body: { q: "forged" },
    },
  );
  await swarm.transport.enqueue(entry.subject, entry.data, { msgId: envelope.id });
  await until(
    async () => (await swarm.store.deadLetters()).some((d) => d.id === envelope.id),
    10_000,
    "the forged delegation to die",
  );
  const dead = (await swarm.store.deadLetters()).find((d) => d.id === envelope.id);
  assert.match(
    dead?.reason ?? "",
    /agent "r-4" cannot delegate to team "research": its lead is "lead-1"/,
  );
  assert.ok(!investigatedBy.has("forged"), "no member ran it");
});

test("a lead of no team or of several, an unknown team, a task no member takes: each is told what to do", () => {
  const book = new TeamBook(
    "t",
    { a: { lead: "l", members: ["w-1"] }, b: { lead: "l", roles: ["worker"] } },
    (id) => (id === "w-1" ? "helper" : undefined),
    (role) => (role === "worker" ? ["y"] : role === "helper" ? ["y", "z"] : []),
  );
  assert.throws(() => book.teamFor("w-1"), /leads no team, so it has none to delegate to/);
  assert.throws(
    () => book.teamFor("l"),
    /leads 2 teams \(a, b\); name the one to delegate to: ctx.team\("a"\)/,
  );
  assert.throws(() => book.teamFor("l", "c"), /no team "c"; its teams are: a, b/);
  assert.throws(
    () => book.route("l", "a", "q"),
    /no member of team "a" takes task "q" \(its members' roles: helper\)/,
  );
  assert.throws(
    () => book.route("l", "a", "y", "worker"),
    /team "a" has no member of role "worker"/,
  );
  assert.deepEqual(book.route("l", "a", "z"), {
    team: "a",
    role: "helper",
    subject: "t.team.a.helper.z",
  });
  assert.ok(book.route("l", "b", "y").subject === "t.team.b.worker.y");
  assert.deepEqual(book.placement("w-1", "helper"), { team: "a", lead: "l", leads: [] });
  assert.deepEqual(book.placement("l", "boss"), { leads: ["a", "b"] });
  assert.ok(ConfigError);
});

test("the registry shows each agent's team and lead, from its signed card", async () => {
  await until(
    () => ["boss", "lead-1", "r-1", "r-4"].every((id) => swarm.registry.get(id) !== undefined),
    10_000,
    "every card heard",
  );
  const card = (id: string) => swarm.registry.get(id)?.card;
  assert.equal(card("r-1")?.team, "research");
  assert.equal(card("r-1")?.lead, "lead-1");
  assert.equal(card("lead-1")?.team, "org");
  assert.equal(card("lead-1")?.lead, "boss");
  assert.deepEqual(card("lead-1")?.leads, ["research"]);
  assert.deepEqual(card("boss")?.leads, ["org"]);
  assert.equal(card("boss")?.team, undefined);
  assert.equal(card("r-4")?.team, undefined);

  // What `conclave top` and the dashboard's agents tab list.
  const api = new DashboardApi(swarm, config);
  const rows = new Map((await api.agents()).map((r) => [r.id, r]));
  assert.deepEqual(
    [rows.get("r-1")?.team, rows.get("r-1")?.lead, rows.get("lead-1")?.leads],
    ["research", "lead-1", ["research"]],
  );
  const text = renderTop(await api.overview(), [...rows.values()], false);
  assert.match(text, /^r-1 .* research<lead-1 /m);
  assert.match(text, /^lead-1 .* org<boss >research /m);
  assert.match(text, /^boss .* >org /m);
});
