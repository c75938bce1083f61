// Where a swarm's messages and state live: the `transport` and `store` URLs
// and the `broker:` section (cluster servers, stream replicas and storage,
// write sync, TLS files), with the check that refuses broker settings the
// transport cannot honour. URLs may carry credentials, so every message
// echoes them redacted.
import { z } from "zod";
import {
  type IssueInput,
  isRecord,
  path,
  startsWithTilde,
  stripUndefined,
  tildeMessage,
} from "./fields.js";
import { describeValue } from "./messages.js";
import { redactUrl } from "./redact.js";

/** PEM files for a TLS connection to the broker; absolute once loaded. */
export interface BrokerTlsConfig {
  /** The CA that signed the broker's certificate; unset: the system's trusted CAs. */
  readonly ca?: string;
  /** This node's client certificate, for brokers that verify clients (mutual TLS). */
  readonly cert?: string;
  /** The client certificate's private key. */
  readonly key?: string;
}

/**
 * How a node connects to its broker, beyond the transport URL. Every field
 * is optional in the file; what applies depends on the transport (the schema
 * refuses settings the transport cannot honour).
 */
export interface BrokerConfig {
  /** More servers of the NATS cluster (`nats://host:port` or `tls://host:port`), tried with the transport URL's. */
  readonly servers: readonly string[];
  /** Copies of each queue stream in a JetStream cluster (NATS); unset: 1. */
  readonly replicas?: 1 | 3 | 5;
  /** Where JetStream keeps queue streams (NATS); unset: file. */
  readonly storage?: "file" | "memory";
  /** Senders keep what they send until it settles, and send again what the server lost (NATS); unset: on with replicas above 1. */
  readonly watchSent?: boolean;
  /**
   * fsync every write of this node's SQLite files (the embedded transport's
   * journal, a `sqlite:` store) before acknowledging it: what survives a
   * power loss, at the cost of one fsync per commit. Brokers sync on their
   * own side (see the swarm file reference).
   */
  readonly syncEveryWrite: boolean;
  /** TLS files; with a `nats://`, `tls://` or `amqps://` transport only. */
  readonly tls?: BrokerTlsConfig;
}

const TRANSPORT = /^(memory|(nats|tls|amqps?):\/\/.+)$/;
const STORE = /^(sqlite:.+|postgres(ql)?:\/\/.+)$/;

// Transport and store URLs may carry credentials, so they are echoed redacted.
export function shownUrl(input: unknown): string {
  return typeof input === "string" ? JSON.stringify(redactUrl(input)) : describeValue(input);
}

function isValidUrl(value: string, needsHost: boolean): boolean {
  try {
    const url = new URL(value);
    return !needsHost || url.hostname.length > 0;
  } catch {
    return false;
  }
}

export const TRANSPORT_EXPECTED = `"memory" or a nats://, tls://, amqp:// or amqps:// URL`;
export const transportSchema = z
  .string()
  .regex(TRANSPORT, {
    error: (issue: IssueInput) => `expected ${TRANSPORT_EXPECTED}, got ${shownUrl(issue.input)}`,
  })
  .refine((value) => value === "memory" || isValidUrl(value, true), {
    error: (issue: IssueInput) =>
      `expected a well-formed URL with a host, got ${shownUrl(issue.input)}; percent-encode special characters in user names and passwords`,
  });

/**
 * What is wrong with a transport URL, as the swarm file's `transport` is
 * checked (the command line's `--transport` uses it too); undefined when it
 * is well formed.
 */
export function transportProblem(value: string): string | undefined {
  const result = transportSchema.safeParse(value);
  return result.success ? undefined : result.error.issues[0]?.message;
}

// A bare path is the likeliest slip: say how to write it.
function schemeHint(input: unknown): string {
  return typeof input === "string" && input !== "" && !/^[a-z][a-z0-9+.-]*:/i.test(input)
    ? `; for a SQLite file write sqlite:${input}`
    : "";
}

export const STORE_EXPECTED = `"sqlite:<path>", "sqlite::memory:" or a postgres:// or postgresql:// URL`;
export const storeSchema = z
  .string()
  .regex(STORE, {
    error: (issue: IssueInput) =>
      `expected ${STORE_EXPECTED}, got ${shownUrl(issue.input)}${schemeHint(issue.input)}`,
    // A value of the wrong form is not then also a malformed postgres URL.
    abort: true,
  })
  // Postgres accepts a host-less URL (a Unix socket given as ?host=...), so only well-formedness is checked.
  .refine((value) => value.startsWith("sqlite:") || isValidUrl(value, false), {
    error: (issue: IssueInput) =>
      `expected a well-formed postgres URL, got ${shownUrl(issue.input)}; percent-encode special characters in user names and passwords`,
  })
  .refine(
    (value) => !(value.startsWith("sqlite:") && startsWithTilde(value.slice("sqlite:".length))),
    {
      error: (issue: IssueInput) => tildeMessage(String(issue.input), "sqlite:"),
    },
  );

// A seed server of a NATS cluster: no credentials here (they come from the
// transport URL and apply to every server), no path.
const NATS_SERVER = /^(nats|tls):\/\/[^\s/@?#]+\/?$/;

const brokerTlsSchema = z
  .strictObject({
    ca: path
      .optional()
      .describe(
        "PEM file of the CA that signed the broker's certificate, relative to the swarm file. Default: the system's trusted CAs.",
      ),
    cert: path
      .optional()
      .describe(
        "PEM file of this node's client certificate, for a broker that verifies clients (mutual TLS); needs key.",
      ),
    key: path
      .optional()
      .describe(
        "PEM file of the client certificate's private key (keep it mode 0600); needs cert.",
      ),
  })
  .describe(
    "TLS files for the broker connection (nats://, tls:// or amqps:// transports), relative to the swarm file.",
  );

export const brokerSchema = z
  .strictObject({
    servers: z
      .array(
        z.string().regex(NATS_SERVER, {
          error: (issue: IssueInput) =>
            `expected nats://host:port or tls://host:port without credentials (they come from transport), got ${shownUrl(issue.input)}`,
        }),
      )
      .default([])
      .describe(
        "More servers of the same NATS cluster, tried with the transport URL's (seeds: the client learns the rest of the cluster from them).",
      ),
    replicas: z
      .literal([1, 3, 5])
      .optional()
      .describe(
        "Copies of each queue stream in a JetStream cluster (1, 3 or 5; at most the cluster size). NATS only. Default: 1.",
      ),
    storage: z
      .enum(["file", "memory"])
      .optional()
      .describe(
        "Where JetStream keeps queue streams: file survives a server restart, memory does not. NATS only. Default: file.",
      ),
    watchSent: z
      .boolean()
      .optional()
      .describe(
        "Senders keep each task they send until a completion in the swarm's store settles it, and send again what a NATS server lost after acknowledging it (a partition of a replicated stream). NATS only. Default: on with replicas above 1. Turn it off when clients that do not record completions in the swarm's store (other languages) take tasks from this swarm's queues: they would get each task again. See docs/RELIABILITY.md.",
      ),
    syncEveryWrite: z
      .boolean()
      .default(false)
      .describe(
        "fsync every write of this node's SQLite files (embedded transport journal, sqlite store) before acknowledging it: survives a power loss, at one fsync per commit. On NATS also set jetstream { sync_interval: always } on the servers (2.10+; conclave reports an older server) or use replicas: 3; RabbitMQ quorum queues always fsync before confirming. See docs/RELIABILITY.md.",
      ),
    tls: brokerTlsSchema.optional(),
  })
  .describe(
    "Broker connection settings beyond the transport URL: cluster servers, stream replicas and storage, write sync, TLS files.",
  );

/** Refuses broker settings the transport cannot honour, saying what to change. */
export function checkBroker(value: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const broker = value["broker"];
  const transport = value["transport"];
  if (!isRecord(broker) || typeof transport !== "string") return;
  const scheme = transport === "memory" ? "memory" : transport.slice(0, transport.indexOf(":"));
  const isNats = scheme === "nats" || scheme === "tls";
  // Never the URL itself: it may hold credentials.
  const described = scheme === "memory" ? `"memory" (in-process, no broker)` : `a ${scheme}:// URL`;
  const at = (...rest: string[]) => ["broker", ...rest];
  const refuse = (key: string, message: string) =>
    ctx.addIssue({ code: "custom", path: at(key), message });
  const servers = broker["servers"];
  if (Array.isArray(servers) && servers.length > 0 && !isNats) {
    refuse(
      "servers",
      `servers lists more NATS servers, but the transport is ${described}; remove broker.servers or set transport to a nats:// or tls:// URL`,
    );
  }
  if (broker["replicas"] !== undefined && !isNats) {
    refuse(
      "replicas",
      scheme === "memory"
        ? `replicas sets the copies of JetStream streams, but the transport is ${described}; remove broker.replicas or set transport to a nats:// URL`
        : "replicas applies to NATS JetStream; RabbitMQ quorum queues replicate over the cluster's nodes by themselves, so remove broker.replicas",
    );
  }
  if (broker["watchSent"] !== undefined && !isNats) {
    refuse(
      "watchSent",
      `watchSent asks NATS servers whether they still hold what was sent, but the transport is ${described}; remove broker.watchSent`,
    );
  }
  if (broker["storage"] !== undefined && !isNats) {
    refuse(
      "storage",
      scheme === "memory"
        ? `storage applies to JetStream streams, but the transport is ${described}; remove broker.storage (the embedded transport journals to dataDir)`
        : "storage applies to NATS JetStream; RabbitMQ quorum queues always keep messages on disk, so remove broker.storage",
    );
  }
  const tls = broker["tls"];
  if (!isRecord(tls)) return;
  if (scheme === "memory") {
    refuse(
      "tls",
      `tls files secure a broker connection, but the transport is ${described}; remove broker.tls or set transport to tls://host:4222 (NATS) or amqps://host:5671 (RabbitMQ)`,
    );
  } else if (scheme === "amqp") {
    refuse(
      "tls",
      "tls files need a TLS connection, but the transport is a plain amqp:// URL; change it to amqps:// (port 5671 by default)",
    );
  }
  const hasCert = tls["cert"] !== undefined;
  const hasKey = tls["key"] !== undefined;
  if (hasCert !== hasKey) {
    ctx.addIssue({
      code: "custom",
      path: at("tls", hasCert ? "cert" : "key"),
      message: hasCert
        ? "a client certificate needs its private key: add key: <file> next to cert"
        : "a private key needs its client certificate: add cert: <file> next to key",
    });
  }
}

/** The `broker:` section with trailing slashes and unset fields dropped. */
export function buildBroker(broker: z.output<typeof brokerSchema>): BrokerConfig {
  return {
    servers: broker.servers.map((url) => url.replace(/\/$/, "")),
    ...(broker.replicas === undefined ? {} : { replicas: broker.replicas }),
    ...(broker.storage === undefined ? {} : { storage: broker.storage }),
    ...(broker.watchSent === undefined ? {} : { watchSent: broker.watchSent }),
    syncEveryWrite: broker.syncEveryWrite,
    ...(broker.tls === undefined ? {} : { tls: stripUndefined(broker.tls) as BrokerTlsConfig }),
  };
}
