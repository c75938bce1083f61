import type { Clock } from "../../core/clock.js";
import { ConfigError } from "../../errors/index.js";
import { redactUrl } from "./errors.js";

/** TLS material: each field is PEM text or the path of a PEM file. */
export interface NatsTlsConfig {
  /** Certificate authority that signed the server's certificate. */
  readonly ca?: string;
  /** Client certificate, for servers that verify clients (mutual TLS). */
  readonly cert?: string;
  /** The client certificate's private key. */
  readonly key?: string;
}

/** How {@link createNatsTransport} connects to NATS and sets up its JetStream streams. */
export interface NatsTransportConfig {
  /**
   * One server URL or several of one cluster: `nats://host:4222`,
   * `tls://host:4222`. A `tls://` URL requires TLS: a server that offers none
   * is refused, never spoken to in plaintext.
   */
  readonly servers: string | readonly string[];
  /** Connection name shown by the server's monitoring. Default `"conclave"`. */
  readonly name?: string;
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** Connect over TLS. An empty object requires TLS with the system's trusted CAs. */
  readonly tls?: NatsTlsConfig;
  /** How long JetStream remembers a `msgId` to drop a duplicate enqueue. Default 2 minutes. */
  readonly dedupWindowMs?: number;
  /**
   * Where queue streams keep messages. Default `"file"` (survives a server
   * restart). Applies when a queue's stream is created; JetStream cannot
   * change it later.
   */
  readonly storage?: "file" | "memory";
  /** Copies of each queue stream in a JetStream cluster (1, 3 or 5). Default 1. */
  readonly replicas?: number;
  /**
   * Senders keep what they send until it settles and send again what the
   * server lost after acknowledging it (`TransportFeatures.watchSent`;
   * nats-io/nats-server#6236). Default: on with `replicas` above 1, where a
   * partition can lose an acknowledged publish; off with one replica. Turn
   * it off where consumers that do not record completions in the swarm's
   * store (clients in other languages) take tasks this swarm sends: each
   * would get its tasks again, up to 5 times.
   */
  readonly watchSent?: boolean;
  /**
   * The swarm wants every acknowledged enqueue fsynced (`broker.syncEveryWrite`).
   * Only the server can do it (`jetstream { sync_interval: always }`,
   * nats-server 2.10+): on connecting, a server too old for that setting is
   * reported to `onError` as a `SyncNotStrictError` saying what to change.
   * Default false.
   */
  readonly syncEveryWrite?: boolean;
  /** Pause between reconnect attempts. Reconnection never gives up. Default 2000 ms. */
  readonly reconnectTimeWaitMs?: number;
  /** How long to wait for the server to answer a JetStream call (enqueue, ack, ...). Default 5000 ms. */
  readonly apiTimeoutMs?: number;
  /** How long the first connection may take. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * How long `ensureQueue` (and the connection's first JetStream call) keeps
   * trying while JetStream cannot answer yet (a cluster electing a leader, a
   * server restarting, too few servers up for the replicas): timeouts and
   * "temporarily unavailable" answers are retried with backoff (250 ms,
   * doubling to 2 s) until this much time has passed. Default 30 000 ms; 0
   * fails at the first timeout.
   */
  readonly ensureQueueRetryMs?: number;
  readonly clock?: Clock;
  /** Called with failures nobody awaits (a throwing handler, a pull that failed). Default: a process warning. */
  readonly onError?: (error: Error) => void;
}

/** Defaults of the settings the adapter reads in more than one place. */
export const NatsDefaults = Object.freeze({
  dedupWindowMs: 120_000,
  apiTimeoutMs: 5_000,
  connectTimeoutMs: 10_000,
  ensureQueueRetryMs: 30_000,
} as const);

const SERVER_URL = /^(nats|tls):\/\/[^\s/]+\/?$|^[^\s:/]+:\d+$/;

/** Checks the configuration (`ConfigError` when it is wrong); returns the server URLs. */
export function validateTransportConfig(config: NatsTransportConfig): string[] {
  const servers = typeof config.servers === "string" ? [config.servers] : [...config.servers];
  if (servers.length === 0) {
    throw new ConfigError("nats transport: servers must list at least one nats:// URL");
  }
  for (const url of servers) {
    if (typeof url !== "string" || !SERVER_URL.test(url)) {
      throw new ConfigError(
        `nats transport: "${redactUrl(String(url))}" is not a NATS server URL; use nats://host:port or tls://host:port`,
      );
    }
  }
  const positive = (value: number | undefined, field: string) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new ConfigError(`nats transport: ${field} must be a positive integer of milliseconds`);
    }
  };
  positive(config.dedupWindowMs, "dedupWindowMs");
  positive(config.reconnectTimeWaitMs, "reconnectTimeWaitMs");
  positive(config.apiTimeoutMs, "apiTimeoutMs");
  positive(config.connectTimeoutMs, "connectTimeoutMs");
  if (
    config.ensureQueueRetryMs !== undefined &&
    (!Number.isInteger(config.ensureQueueRetryMs) || config.ensureQueueRetryMs < 0)
  ) {
    throw new ConfigError(
      "nats transport: ensureQueueRetryMs must be a non-negative integer of milliseconds",
    );
  }
  if (config.storage !== undefined && config.storage !== "file" && config.storage !== "memory") {
    throw new ConfigError('nats transport: storage must be "file" or "memory"');
  }
  if (
    config.replicas !== undefined &&
    (!Number.isInteger(config.replicas) || config.replicas < 1 || config.replicas > 5)
  ) {
    throw new ConfigError("nats transport: replicas must be an integer from 1 to 5");
  }
  return servers;
}

/** PEM text goes as is; anything else is a file path. */
export function tlsOptions(tls: NatsTlsConfig): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (value: string | undefined, inline: string, file: string) => {
    if (value === undefined) return;
    if (value.includes("-----BEGIN")) out[inline] = value;
    else out[file] = value;
  };
  put(tls.ca, "ca", "caFile");
  put(tls.cert, "cert", "certFile");
  put(tls.key, "key", "keyFile");
  return out;
}
