// The `gateway:` section of a swarm file: how callers outside the swarm (A2A
// clients, MCP clients) may start its tasks. One section serves both
// protocols, since what matters is the same: which tasks are offered, who may
// call, what each call may cost, and which agent signs what they ask.
import { z } from "zod";
import { expecting, integer, isRecord, path } from "./fields.js";
import { didYouMean } from "./messages.js";

/** A task offered to outside callers. */
export interface ExposedTaskConfig {
  /** The role that serves it (lists it under `tasks`). */
  readonly role: string;
  /** The task type. */
  readonly task: string;
  /** What it does, shown to callers (agent card skill, MCP tool description). */
  readonly description?: string;
}

/** Mutual TLS: the gateway serves HTTPS and admits only clients whose certificate `ca` signed. */
export interface GatewayTlsConfig {
  readonly cert: string;
  readonly key: string;
  /** CA of the client certificates; the caller's name is the certificate's subject CN. */
  readonly ca: string;
}

export interface GatewayConfig {
  /** The declared agent that signs the tasks outside callers start (and whose budget escrows them). */
  readonly as: string;
  /** Address to bind; 127.0.0.1 unless told otherwise. */
  readonly host: string;
  readonly port: number;
  /** Bearer tokens by caller name: the name is recorded in each task the caller starts. */
  readonly tokens: Readonly<Record<string, string>>;
  readonly tls?: GatewayTlsConfig;
  readonly expose: readonly ExposedTaskConfig[];
  /** Credits held from the signing agent's budget per task started, charged when it completes. */
  readonly pricePerTask: number;
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes: number;
  /** Requests per minute per caller. */
  readonly ratePerMinute: number;
  /** How long a blocking call (A2A message/send, an MCP tool call) waits for the task, in ms. */
  readonly waitMs: number;
}

const DEFAULT_PORT = 8470;

/** The section as written; `buildGateway` applies defaults. */
export const gatewaySchema = z
  .strictObject({
    as: z
      .string({ error: expecting("an agent id") })
      .describe("The declared agent that signs tasks started from outside."),
    host: z
      .string()
      .min(1)
      .default("127.0.0.1")
      .describe("Address to bind; 0.0.0.0 exposes the gateway beyond this machine."),
    port: integer(0, 65535).default(DEFAULT_PORT).describe("Port to listen on (0: any free port)."),
    tokens: z
      .record(
        z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, {
          error: expecting("a caller name of letters, digits, '.', '_' or '-'"),
        }),
        z
          .string()
          .min(16, { error: "a token must have at least 16 characters" })
          // A caller sends it as one word after `Bearer`; the value is never echoed.
          .regex(/^\S+$/, {
            error:
              "a token cannot contain whitespace (a space, or a newline left from the file it was read from): callers send it as one word after Bearer, so it could never match",
          }),
      )
      .default({})
      .describe(`Bearer tokens by caller name, e.g. { ide: "\${CONCLAVE_IDE_TOKEN}" }.`),
    tls: z
      .strictObject({ cert: path, key: path, ca: path })
      .optional()
      .describe("Serve HTTPS and require client certificates signed by `ca` (mutual TLS)."),
    expose: z
      .array(
        z.strictObject({
          role: z.string().min(1),
          task: z.string().min(1),
          description: z.string().optional(),
        }),
      )
      .min(1, { error: "offer at least one task, e.g. - { role: writer, task: write }" })
      .describe("The tasks outside callers may start."),
    pricePerTask: integer(0, Number.MAX_SAFE_INTEGER)
      .default(0)
      .describe(
        "Credits escrowed from the signing agent's budget per task, charged on completion.",
      ),
    maxBodyBytes: integer(256, 64 * 1024 * 1024)
      .default(1024 * 1024)
      .describe("Largest request body, in bytes."),
    ratePerMinute: integer(1, 1_000_000).default(120).describe("Requests per minute per caller."),
    waitMs: integer(1, 24 * 3600 * 1000)
      .default(120_000)
      .describe("How long a blocking call waits for its task before answering that it still runs."),
  })
  .optional()
  .describe(
    "Outside callers (A2A, MCP): conclave gateway a2a and conclave mcp serve the tasks listed under expose.",
  );

type Issue = { path: (string | number)[]; message: string };

/** Cross-field checks: the signer is declared, exposed tasks are their role's, callers can authenticate. */
export function checkGateway(
  gateway: unknown,
  agents: unknown,
  roles: unknown,
  addIssue: (issue: Issue) => void,
): void {
  if (!isRecord(gateway) || !Array.isArray(agents) || !isRecord(roles)) return;
  const ids = agents.flatMap((a) => (isRecord(a) && typeof a["id"] === "string" ? [a["id"]] : []));
  const as = gateway["as"];
  if (typeof as === "string" && !ids.includes(as)) {
    addIssue({
      path: ["gateway", "as"],
      message: `no agent "${as}" is declared${didYouMean(as, ids)}; declare the agent that signs outside requests under agents`,
    });
  }
  const tokens = gateway["tokens"];
  const hasTokens = isRecord(tokens) && Object.keys(tokens).length > 0;
  if (!hasTokens && gateway["tls"] === undefined) {
    addIssue({
      path: ["gateway", "tokens"],
      message: `outside callers must authenticate: give tokens (e.g. { ide: "\${CONCLAVE_IDE_TOKEN}" }) or tls with a client CA`,
    });
  }
  if (hasTokens) {
    // The caller is known by its token: two with one token are both taken for the first.
    const callerOf = new Map<unknown, string>();
    for (const [caller, token] of Object.entries(tokens)) {
      const first = callerOf.get(token);
      if (first === undefined) callerOf.set(token, caller);
      else {
        addIssue({
          path: ["gateway", "tokens", caller],
          message: `caller "${caller}" has the same token as caller "${first}", so its requests would be recorded as ${first}'s; give each caller a token of its own`,
        });
      }
    }
  }
  const expose = gateway["expose"];
  if (!Array.isArray(expose)) return;
  expose.forEach((entry, i) => {
    if (!isRecord(entry) || typeof entry["role"] !== "string") return;
    const role = roles[entry["role"]];
    if (!isRecord(role)) {
      addIssue({
        path: ["gateway", "expose", i, "role"],
        message: `no role "${entry["role"]}"${didYouMean(entry["role"], Object.keys(roles))}`,
      });
      return;
    }
    const tasks = Array.isArray(role["tasks"]) ? (role["tasks"] as unknown[]) : [];
    if (typeof entry["task"] === "string" && !tasks.includes(entry["task"])) {
      addIssue({
        path: ["gateway", "expose", i, "task"],
        message: `role "${entry["role"]}" does not list "${entry["task"]}" under tasks`,
      });
    }
  });
}

/** The section with its defaults applied, or undefined when the file has none. */
export function buildGateway(parsed: z.output<typeof gatewaySchema>): GatewayConfig | undefined {
  if (parsed === undefined) return undefined;
  return {
    as: parsed.as,
    host: parsed.host,
    port: parsed.port,
    tokens: parsed.tokens,
    ...(parsed.tls === undefined ? {} : { tls: parsed.tls }),
    expose: parsed.expose.map((e) => ({
      role: e.role,
      task: e.task,
      ...(e.description === undefined ? {} : { description: e.description }),
    })),
    pricePerTask: parsed.pricePerTask,
    maxBodyBytes: parsed.maxBodyBytes,
    ratePerMinute: parsed.ratePerMinute,
    waitMs: parsed.waitMs,
  };
}
