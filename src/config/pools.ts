// The `pools:` section of a swarm file: roles whose workers are scaled between
// `min` and `max` by queue depth and latency (src/hierarchy/autoscaler.ts),
// spawned as copies of a template agent and retired when idle.
import { z } from "zod";
import { expecting, integer, isRecord } from "./fields.js";
import { didYouMean } from "./messages.js";

/** One role's autoscaling pool, defaults applied. */
export interface PoolConfig {
  /** The declared agent whose settings and handlers every worker copies; a worker itself. */
  readonly template: string;
  readonly min: number;
  readonly max: number;
  readonly targetTasksPerWorker: number;
  readonly targetLatencyMs?: number;
  readonly scaleUpCooldownMs: number;
  readonly scaleDownCooldownMs: number;
  readonly hysteresis: number;
  readonly intervalMs: number;
}

/** The longest id a worker slot may get: `<template>-p<n>` stays within 128 characters. */
const MAX_TEMPLATE_ID = 120;

const ms = (min: number, max: number) => integer(min, max);

/** `defaults.concurrency` when the swarm file does not set it (src/config/delivery.ts). */
const DEFAULT_CONCURRENCY = 4;

/** The most workers a pool may have. */
const MAX_WORKERS = 10_000;

/** The section as written; `buildPools` applies defaults. */
export const poolsSchema = z
  .record(
    z.string(),
    z.strictObject({
      template: z
        .string({ error: expecting("an agent id") })
        .optional()
        .describe(
          "The agent (of this role) each worker copies, with a fresh key: settings, module setup, model. Default: the role's first agent.",
        ),
      min: integer(0, MAX_WORKERS).default(1).describe("Fewest workers, the template included."),
      max: integer(1, MAX_WORKERS).describe("Most workers, the template included."),
      targetTasksPerWorker: z
        .number({ error: expecting("a number > 0") })
        .positive({ error: expecting("a number > 0") })
        .default(1)
        .describe(
          "Outstanding tasks (queued + in flight) one worker should carry; at or below the workers' concurrency.",
        ),
      targetLatencyMs: ms(1, 3_600_000)
        .optional()
        .describe(
          "Handling time (p90 over an interval) to stay under, ms; above it the pool grows in proportion. Omit to scale by the queue alone.",
        ),
      scaleUpCooldownMs: ms(0, 3_600_000)
        .default(10_000)
        .describe("Least time after a scaling before growing again, ms."),
      scaleDownCooldownMs: ms(0, 86_400_000)
        .default(60_000)
        .describe("Least time after a scaling before retiring idle workers, ms."),
      hysteresis: z
        .number({ error: expecting("a number from 0 to below 1") })
        .min(0, { error: expecting("a number from 0 to below 1") })
        .lt(1, { error: expecting("a number from 0 to below 1") })
        .default(0.2)
        .describe(
          "Shrink only when the remaining workers would be loaded at most (1 − hysteresis) of their target: keeps a load at a boundary from flapping.",
        ),
      intervalMs: ms(10, 600_000)
        .default(1_000)
        .describe("How often the pool looks at its queue, ms."),
    }),
  )
  .default({})
  .describe(
    "Autoscaling pools by role: workers are spawned from a template agent and retired when idle, e.g. worker: { template: worker-1, min: 1, max: 8 }.",
  );

type Issue = { path: (string | number)[]; message: string };

/** The sections a pool is checked against besides roles, agents and tasks. */
export interface PoolNeighbours {
  /** `teams:`: a team's lead cannot be a template. */
  readonly teams?: unknown;
  /** `ensembles:`: a member's role cannot be pooled. */
  readonly ensembles?: unknown;
  /** `defaults:`: the concurrency a template without its own (nor its role's) has. */
  readonly defaults?: unknown;
}

/**
 * Cross-field checks: roles and templates exist, the range is sound,
 * targetTasksPerWorker is within the workers' concurrency, slot ids
 * collide with nothing, and the pooled role is neither auctioned nor an
 * ensemble member's.
 */
export function checkPools(
  pools: unknown,
  agents: unknown,
  roles: unknown,
  tasks: unknown,
  addIssue: (issue: Issue) => void,
  { teams, ensembles, defaults }: PoolNeighbours = {},
): void {
  if (!isRecord(pools) || !Array.isArray(agents) || !isRecord(roles)) return;
  const leads = new Map<string, string>();
  if (isRecord(teams)) {
    for (const [name, team] of Object.entries(teams)) {
      if (isRecord(team) && typeof team["lead"] === "string") leads.set(team["lead"], name);
    }
  }
  const roleOf = new Map<string, string>();
  const agentById = new Map<string, Record<string, unknown>>();
  for (const a of agents) {
    if (isRecord(a) && typeof a["id"] === "string" && typeof a["role"] === "string") {
      roleOf.set(a["id"], a["role"]);
      agentById.set(a["id"], a);
    }
  }
  for (const [role, pool] of Object.entries(pools)) {
    if (!isRecord(pool)) continue;
    const at = (...rest: string[]) => ["pools", role, ...rest];
    if (!(role in roles)) {
      addIssue({
        path: at(),
        message: `no role "${role}" is defined${didYouMean(role, Object.keys(roles))}; a pool is keyed by the role its workers take`,
      });
      continue;
    }
    const template = templateOf(role, pool, roleOf);
    if (template === undefined) {
      addIssue({
        path: at(),
        message: `role "${role}" has no agent to copy; declare one under agents with role: ${role}, or name one as template`,
      });
    } else if (!roleOf.has(template)) {
      addIssue({
        path: at("template"),
        message: `no agent "${template}" is declared${didYouMean(template, [...roleOf.keys()])}`,
      });
    } else if (roleOf.get(template) !== role) {
      addIssue({
        path: at("template"),
        message: `agent "${template}" has role "${roleOf.get(template)}", not "${role}"; a pool's template takes the pool's role`,
      });
    } else if (leads.has(template)) {
      addIssue({
        path: at("template"),
        message: `agent "${template}" leads team "${leads.get(template)}", and a team has one lead: its pool's workers could not delegate to the team; pool a member of the team instead, or give the team a lead of its own`,
      });
    } else if (template.length > MAX_TEMPLATE_ID) {
      addIssue({
        path: at("template"),
        message: `workers are named <template>-p<n>, so the template's id must be at most ${MAX_TEMPLATE_ID} characters`,
      });
    }
    if (template !== undefined && roleOf.get(template) === role) {
      checkTarget(role, pool, template, agentById.get(template), roles[role], defaults, addIssue);
    }
    const min = typeof pool["min"] === "number" ? pool["min"] : 1;
    const max = pool["max"];
    if (typeof max === "number" && max < min) {
      addIssue({ path: at("max"), message: `must be at least min (${min})` });
    }
    // Only for a max the schema accepts: slots are built 2·max at a time.
    if (template !== undefined && Number.isInteger(max) && (max as number) <= MAX_WORKERS) {
      const slots = poolSlotIds(template, max as number);
      const clash = slots.find((id) => roleOf.has(id));
      if (clash !== undefined) {
        addIssue({
          path: at(),
          message: `worker slot "${clash}" is already a declared agent's id; rename that agent (workers are named ${template}-p1 … ${template}-p${slots.length})`,
        });
      }
    }
    checkNotMember(role, ensembles, roleOf, addIssue);
    if (isRecord(tasks)) {
      const listed = isRecord(roles[role]) ? roles[role]["tasks"] : undefined;
      const auctioned = Object.entries(tasks).find(
        ([task, t]) =>
          isRecord(t) &&
          t["allocation"] === "auction" &&
          Array.isArray(listed) &&
          listed.includes(task),
      );
      if (auctioned !== undefined) {
        addIssue({
          path: at(),
          message: `role "${role}" takes "${auctioned[0]}" by auction, and spawned workers do not bid; scale a role whose tasks are queued, or drop the pool`,
        });
      }
    }
  }
}

/**
 * `targetTasksPerWorker` above what a worker holds at once asks each worker
 * to carry a queue: the pool grows only once tasks wait and shrinks as soon
 * as the queue drains, the opposite of what a pool is for. Workers copy the
 * template, so its concurrency (its own, else its role's, else the
 * defaults') is theirs. Without the defaults at hand, a template that
 * inherits them is not checked.
 */
function checkTarget(
  role: string,
  pool: Record<string, unknown>,
  template: string,
  agent: Record<string, unknown> | undefined,
  roleSettings: unknown,
  defaults: unknown,
  addIssue: (issue: Issue) => void,
): void {
  const target = pool["targetTasksPerWorker"];
  if (typeof target !== "number") return;
  const own = agent?.["concurrency"];
  const ofRole = isRecord(roleSettings) ? roleSettings["concurrency"] : undefined;
  const ofDefaults = isRecord(defaults)
    ? (defaults["concurrency"] ?? DEFAULT_CONCURRENCY)
    : undefined;
  const [concurrency, from] =
    typeof own === "number"
      ? [own, `agent "${template}"`]
      : typeof ofRole === "number"
        ? [ofRole, `role "${role}"`]
        : typeof ofDefaults === "number"
          ? [ofDefaults, "defaults"]
          : [undefined, ""];
  if (concurrency === undefined || target <= concurrency) return;
  addIssue({
    path: ["pools", role, "targetTasksPerWorker"],
    message: `${target} is above the workers' concurrency (${concurrency}, from ${from}): a worker holds at most ${concurrency} task(s) at once, so the pool would grow only after a queue formed; set it at most ${concurrency} (e.g. ${concurrency * 0.8}), or raise the concurrency of ${from}`,
  });
}

/**
 * A member of an ensemble is asked through its role and must be that role's
 * only agent: pooled, its workers would answer for it and, being no listed
 * member, also coordinate the ensemble themselves.
 */
function checkNotMember(
  role: string,
  ensembles: unknown,
  roleOf: ReadonlyMap<string, string>,
  addIssue: (issue: Issue) => void,
): void {
  if (!isRecord(ensembles)) return;
  for (const [task, ensemble] of Object.entries(ensembles)) {
    const members = isRecord(ensemble) ? ensemble["members"] : undefined;
    if (!Array.isArray(members)) continue;
    const member = members.find((m) => typeof m === "string" && roleOf.get(m) === role);
    if (member === undefined) continue;
    addIssue({
      path: ["pools", role],
      message: `role "${role}" is the role of ${member}, a member of the ensemble "${task}" (ensembles.${task}.members), and a member must be the only agent of its role: drop pools.${role}, or pool the role that coordinates "${task}" instead`,
    });
    return;
  }
}

/** The declared ids of a pool's worker slots: `<template>-p1 … -p<2·max>` (draining workers keep theirs while new ones start). */
export function poolSlotIds(template: string, max: number): string[] {
  return Array.from({ length: 2 * max }, (_, i) => `${template}-p${i + 1}`);
}

/**
 * The worker ids of every pool as written (`<template>-p1 …`), by the role
 * pooled; pools whose template or max is not valid are left out.
 */
export function poolWorkerIds(pools: unknown, agents: unknown): Map<string, string> {
  const ids = new Map<string, string>();
  if (!isRecord(pools) || !Array.isArray(agents)) return ids;
  const roleOf = new Map<string, string>();
  for (const a of agents) {
    if (isRecord(a) && typeof a["id"] === "string" && typeof a["role"] === "string") {
      roleOf.set(a["id"], a["role"]);
    }
  }
  for (const [role, pool] of Object.entries(pools)) {
    if (!isRecord(pool)) continue;
    const template = templateOf(role, pool, roleOf);
    const max = pool["max"];
    if (template === undefined || !Number.isInteger(max) || (max as number) > MAX_WORKERS) continue;
    for (const id of poolSlotIds(template, max as number)) ids.set(id, role);
  }
  return ids;
}

/** The section with defaults applied; the template defaults to the role's first agent. */
export function buildPools(
  parsed: z.output<typeof poolsSchema>,
  agents: readonly { readonly id: string; readonly role: string }[],
): Readonly<Record<string, PoolConfig>> {
  const roleOf = new Map(agents.map((a) => [a.id, a.role]));
  return Object.fromEntries(
    Object.entries(parsed).map(([role, p]): [string, PoolConfig] => [
      role,
      {
        // The cross-field check guarantees one.
        template: templateOf(role, p, roleOf) ?? "",
        min: p.min,
        max: p.max,
        targetTasksPerWorker: p.targetTasksPerWorker,
        ...(p.targetLatencyMs === undefined ? {} : { targetLatencyMs: p.targetLatencyMs }),
        scaleUpCooldownMs: p.scaleUpCooldownMs,
        scaleDownCooldownMs: p.scaleDownCooldownMs,
        hysteresis: p.hysteresis,
        intervalMs: p.intervalMs,
      },
    ]),
  );
}

function templateOf(
  role: string,
  pool: Record<string, unknown>,
  roleOf: ReadonlyMap<string, string>,
): string | undefined {
  if (typeof pool["template"] === "string") return pool["template"];
  for (const [id, r] of roleOf) if (r === role) return id;
  return undefined;
}
