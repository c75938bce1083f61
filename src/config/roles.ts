// The `roles:` section of a swarm file: the task types each role handles,
// its delivery overrides of `defaults:`, ordering, routing, and an outside
// A2A agent that may serve it.
import { z } from "zod";
import { shownUrl } from "./connection.js";
import {
  ackWaitMs,
  type BackoffConfig,
  backoffOverrideSchema,
  checkBackoff,
  concurrency,
  type DefaultsConfig,
  maxDeliver,
} from "./delivery.js";
import {
  expecting,
  type IssueInput,
  integer,
  isRecord,
  pattern,
  stripUndefined,
  TASK_TYPE,
} from "./fields.js";

/** Delivery order guarantee for a role's tasks. */
export type OrderingMode = "none" | "conversation";
/** How a task is assigned among the live agents of a role. */
export type RoutingStrategy = "round-robin" | "least-loaded" | "reputation";

/** One role with the swarm defaults already applied. */
export interface RoleConfig {
  /** The key under `roles`, repeated here so a role can be passed around alone. */
  readonly name: string;
  readonly description?: string;
  /** Task types this role handles; empty for roles that only publish. */
  readonly tasks: readonly string[];
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly concurrency: number;
  readonly backoff: BackoffConfig;
  readonly ordering: OrderingMode;
  /** Longest a conversation task waits for its predecessor; unset: min(10000, ackWaitMs). */
  readonly gapTimeoutMs?: number;
  readonly routing: RoutingStrategy;
  /** Tasks the role's queue holds at most; a submit beyond it waits until there is room. Unset: no limit. */
  readonly maxPending?: number;
  /** Set when an outside agent serves the role: its agents answer its tasks by calling it. */
  readonly remote?: RemoteRoleConfig;
}

/** An outside agent that serves a role's tasks. */
export interface RemoteRoleConfig {
  /** URL of the remote A2A agent's card, e.g. `http://host:port/.well-known/agent-card.json`. */
  readonly a2a: string;
  /** Bearer token sent to the remote agent (write it as `${VAR}`). */
  readonly token?: string;
  /** Longest one call to the remote agent may take before the attempt fails and is retried, in ms. */
  readonly timeoutMs: number;
}

const ROLE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

// A card URL: http(s) with a host. Echoed redacted, since it may carry credentials.
function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname.length > 0;
  } catch {
    return false;
  }
}

const remoteRoleSchema = z
  .strictObject({
    a2a: z
      .string({ error: expecting("the URL of the remote A2A agent's card") })
      .refine(isHttpUrl, {
        error: (issue: IssueInput) =>
          `expected the http:// or https:// URL of the remote A2A agent's card, e.g. http://127.0.0.1:9000/.well-known/agent-card.json, got ${shownUrl(issue.input)}`,
      })
      .describe(
        "URL of the remote A2A agent's card (http:// or https://, e.g. http://host:9000/.well-known/agent-card.json).",
      ),
    token: z
      .string()
      .min(1)
      .optional()
      .describe(`Bearer token sent to the remote agent; write it as \${VAR}.`),
    timeoutMs: integer(100, 3_600_000)
      .default(60_000)
      .describe(
        "Longest one call to the remote agent may take, in ms; a call that takes longer fails and is retried like any task.",
      ),
  })
  .describe(
    "The role is served by an outside A2A agent: its agents answer each of the role's tasks by sending it to that agent (message/send) and returning its answer.",
  );

const roleSchema = z
  .strictObject({
    description: z
      .string()
      .optional()
      .describe("What the role is for, for people and LLM prompts."),
    tasks: z
      .array(
        pattern(TASK_TYPE, "a task type of lowercase letters, digits, '_' or '-', dot-separated"),
      )
      .default([])
      .describe("Task types this role handles; leave empty for roles that only publish."),
    ackWaitMs: ackWaitMs.optional(),
    maxDeliver: maxDeliver.optional(),
    concurrency: concurrency.optional(),
    backoff: backoffOverrideSchema.optional(),
    ordering: z
      .enum(["none", "conversation"])
      .default("none")
      .describe(
        "none, or conversation: a task with conv and seq runs after seq - 1 of its conversation completed (or after gapTimeoutMs). Causal ordering is for event subscriptions.",
      ),
    gapTimeoutMs: integer(10, 3_600_000)
      .optional()
      .describe(
        "Longest a conversation task waits for its predecessor. Default: min(10000, ackWaitMs).",
      ),
    routing: z
      .enum(["round-robin", "least-loaded", "reputation"])
      .default("round-robin")
      .describe("How a task is assigned among the live agents of the role."),
    maxPending: integer(1, 100_000_000)
      .optional()
      .describe(
        "Tasks the role's queue holds at most (pending and in flight); a submit beyond it waits, retrying with backoff, until the consumers make room. Default: no limit.",
      ),
    remote: remoteRoleSchema.optional(),
  })
  .describe("A role: the task types it handles and how they are delivered.");

/** The section as written. */
export const rolesSchema = z
  .record(
    pattern(
      ROLE_NAME,
      "a role name of lowercase letters, digits, '_' or '-', starting with a letter",
    ),
    roleSchema,
  )
  .describe("Roles by name.");

/**
 * Refuses a task listed twice in a role, a remote role without tasks, and a role's backoff whose maxMs falls
 * below its baseMs once merged with the defaults.
 */
export function checkRoles(
  roles: Record<string, unknown>,
  defaults: unknown,
  ctx: z.RefinementCtx,
): void {
  for (const [name, role] of Object.entries(roles)) {
    const tasks = isRecord(role) ? role["tasks"] : undefined;
    if (Array.isArray(tasks)) {
      // A task listed twice is a slip (a copy-paste, a typo fixed in one place only).
      const seen = new Set<unknown>();
      tasks.forEach((task, index) => {
        if (typeof task === "string" && seen.has(task)) {
          ctx.addIssue({
            code: "custom",
            path: ["roles", name, "tasks", index],
            message: `task "${task}" is listed twice in role "${name}"; list each task once`,
          });
        }
        seen.add(task);
      });
    }
    if (isRecord(role) && isRecord(role["remote"]) && Array.isArray(tasks) && tasks.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["roles", name, "tasks"],
        message: `role "${name}" is served by a remote agent but lists no tasks to send it; list them under tasks`,
      });
    }
  }
  if (isRecord(defaults) && isRecord(defaults["backoff"])) {
    for (const [name, role] of Object.entries(roles)) {
      if (isRecord(role) && isRecord(role["backoff"])) {
        checkBackoff(defaults["backoff"], role["backoff"], ["roles", name, "backoff"], ctx);
      }
    }
  }
}

/** One role with the swarm defaults applied. */
export function buildRole(
  name: string,
  role: z.output<typeof roleSchema>,
  defaults: DefaultsConfig,
): RoleConfig {
  return {
    name,
    ...(role.description === undefined ? {} : { description: role.description }),
    tasks: role.tasks,
    ackWaitMs: role.ackWaitMs ?? defaults.ackWaitMs,
    maxDeliver: role.maxDeliver ?? defaults.maxDeliver,
    concurrency: role.concurrency ?? defaults.concurrency,
    backoff: {
      ...defaults.backoff,
      ...(stripUndefined(role.backoff ?? {}) as Partial<BackoffConfig>),
    },
    ordering: role.ordering,
    ...(role.gapTimeoutMs === undefined ? {} : { gapTimeoutMs: role.gapTimeoutMs }),
    routing: role.routing,
    ...(role.maxPending === undefined ? {} : { maxPending: role.maxPending }),
    ...(role.remote === undefined
      ? {}
      : {
          remote: {
            a2a: role.remote.a2a,
            ...(role.remote.token === undefined ? {} : { token: role.remote.token }),
            timeoutMs: role.remote.timeoutMs,
          },
        }),
  };
}
