import type { Clock } from "../../core/clock.js";
import { ConfigError } from "../../errors/index.js";
import type { DedupStore } from "./dedup.js";

/** TLS settings for `amqps://`, passed to node's `tls.connect`. */
export interface AmqpTlsOptions {
  /** Trusted CA certificates (PEM), when the broker's certificate is not signed by a public CA. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate (PEM), for mutual TLS. */
  readonly cert?: string | Buffer;
  /** Client private key (PEM), for mutual TLS. */
  readonly key?: string | Buffer;
  readonly passphrase?: string;
  /** Server name for SNI and certificate checks; defaults to the URL's host. */
  readonly servername?: string;
  /** Default true. Turn off only for a throwaway test broker. */
  readonly rejectUnauthorized?: boolean;
}

/** How {@link createAmqpTransport} connects to RabbitMQ and lays out its topology. */
export interface AmqpTransportConfig {
  /**
   * `amqp://user:password@host:5672/vhost` or `amqps://…`. Holds credentials:
   * the adapter never logs it nor puts it in an error message.
   */
  readonly url: string;
  /** The durable topic exchange all subjects are published to. Default `"conclave"`. */
  readonly exchange?: string;
  /**
   * How long an enqueued `msgId` is remembered for deduplication. Default
   * 120 000 ms (two minutes), as the memory broker.
   */
  readonly dedupWindowMs?: number;
  /**
   * Where enqueue deduplication is recorded. Default: an in-process window
   * (`createWindowDedupStore`), which catches retries from this process only;
   * pass `createSharedDedupStore` over a table every process shares (the
   * runtime uses the swarm store's idempotency keys) to drop an id enqueued
   * again by another process or after a restart.
   */
  readonly dedup?: DedupStore;
  /** TLS options; only with an `amqps://` URL. */
  readonly tls?: AmqpTlsOptions;
  /** AMQP heartbeat, unless the URL sets `?heartbeat=`. Default 30 s; 0 turns it off. */
  readonly heartbeatSeconds?: number;
  /** How long to wait for the TCP (and TLS) connection. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * A delayed retry due within this many ms waits in the consumer that
   * holds it (unacknowledged, so a crash hands it back to the queue) and is
   * then put back on its queue; a longer one goes through a delay queue (a
   * quorum queue with per-message TTL that dead-letters it back). Default
   * 1 000 ms; 0 sends every delayed retry through a delay queue.
   * RabbitMQ's at-least-once dead-lettering can stop forwarding after a
   * node is killed (docs/RELIABILITY.md), so short delays avoid it.
   */
  readonly inProcessDelayMaxMs?: number;
  readonly clock?: Clock;
  /** Called with failures nobody awaits (a broken channel, a throwing handler, a lost connection). */
  readonly onError?: (error: Error) => void;
}

const EXCHANGE_NAME = /^[A-Za-z0-9_.:-]{1,200}$/;

/** What a connection needs, resolved from an `AmqpTransportConfig`. */
export interface ConnectionSettings {
  readonly url: string;
  /** Where it connects, without credentials: safe for messages. */
  readonly endpoint: string;
  readonly exchange: string;
  readonly socketOptions: Record<string, unknown>;
}

/** Checks the configuration and resolves what a connection needs; `ConfigError` when it is wrong. */
export function resolveSettings(config: AmqpTransportConfig): ConnectionSettings {
  const raw = config.url;
  if (typeof raw !== "string" || !/^amqps?:\/\//i.test(raw)) {
    throw new ConfigError("the amqp transport needs an amqp:// or amqps:// URL");
  }
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    // No cause: node's URL error carries the input, credentials included.
    throw new ConfigError("the amqp transport URL is not a valid URL");
  }
  const secure = parsed.protocol.toLowerCase() === "amqps:";
  const exchange = config.exchange ?? "conclave";
  if (!EXCHANGE_NAME.test(exchange) || exchange.startsWith("amq.")) {
    throw new ConfigError(
      `exchange name "${exchange}" must be 1-200 letters, digits, '_', '-', '.' or ':' and not start with "amq."`,
    );
  }
  if (config.tls && !secure) {
    throw new ConfigError("tls options need an amqps:// URL");
  }
  if (config.tls) assertPemText(config.tls);
  const heartbeat = config.heartbeatSeconds ?? 30;
  if (!Number.isInteger(heartbeat) || heartbeat < 0) {
    throw new ConfigError("heartbeatSeconds must be a non-negative integer");
  }
  const dedupWindowMs = config.dedupWindowMs ?? 120_000;
  if (!Number.isInteger(dedupWindowMs) || dedupWindowMs < 1) {
    throw new ConfigError("dedupWindowMs must be a positive integer of milliseconds");
  }
  const connectTimeoutMs = config.connectTimeoutMs ?? 10_000;
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 1) {
    // Else the connect failed with a message blaming the URL or the broker.
    throw new ConfigError(
      `connectTimeoutMs must be a positive whole number of milliseconds; got ${String(config.connectTimeoutMs)}`,
    );
  }
  const inProcessDelayMaxMs = config.inProcessDelayMaxMs ?? 1_000;
  if (!Number.isInteger(inProcessDelayMaxMs) || inProcessDelayMaxMs < 0) {
    throw new ConfigError(
      `inProcessDelayMaxMs must be a whole number of milliseconds, 0 or more; got ${String(config.inProcessDelayMaxMs)}`,
    );
  }
  const url = parsed.searchParams.has("heartbeat")
    ? raw
    : `${raw}${raw.includes("?") ? "&" : "?"}heartbeat=${heartbeat}`;
  const port = parsed.port || (secure ? "5671" : "5672");
  const vhost = parsed.pathname.length > 1 ? parsed.pathname : "";
  return {
    url,
    endpoint: `${parsed.protocol}//${parsed.hostname}:${port}${vhost}`,
    exchange,
    socketOptions: {
      timeout: connectTimeoutMs,
      // Nagle's algorithm made every confirmed publish wait ~40 ms for the
      // broker's delayed ACK at low rates.
      noDelay: true,
      clientProperties: { connection_name: `conclave (${exchange})` },
      ...config.tls,
    },
  };
}

/**
 * amqplib hands `tls.ca`, `tls.cert` and `tls.key` to node as they are, so a
 * file path there fails inside OpenSSL with "no start line". Says which
 * setting instead (without echoing it: it may be a key).
 */
function assertPemText(tls: AmqpTlsOptions): void {
  for (const field of ["ca", "cert", "key"] as const) {
    const values = ([] as unknown[]).concat(tls[field] ?? []);
    if (values.some((v) => typeof v === "string" && !v.includes("-----BEGIN"))) {
      throw new ConfigError(
        `tls.${field} must be PEM text (a file's contents, starting with -----BEGIN), not a file path; read the file and pass its contents`,
      );
    }
  }
}
