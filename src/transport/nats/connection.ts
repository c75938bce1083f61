import { type Clock, systemClock } from "../../core/clock.js";
import { ConfigError, TimeoutError, TransportError } from "../../errors/index.js";
import {
  clientCertificateFix,
  serverRefusedError,
  serverUntrustedError,
  untrustedServerCause,
} from "../tls-errors.js";
import { NatsDefaults, type NatsTransportConfig, tlsOptions } from "./config.js";
import {
  type Driver,
  type JetStreamClient,
  type JetStreamManager,
  loadDriver,
  type NatsConnection,
} from "./driver.js";
import {
  describeCause,
  isTimeout,
  isTransient,
  redactUrl,
  retryWhileUnavailable,
} from "./errors.js";
import { diagnoseNatsTls } from "./tls-diagnosis.js";

/** A connection with JetStream answering on it. */
export interface NatsSession {
  readonly driver: Driver;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

/**
 * Connects (loading the driver on first use) and waits until JetStream
 * answers. A failed connect is explained (a TLS handshake refused by either
 * side, an unreachable server); credentials never appear in errors.
 */
export async function openSession(
  config: NatsTransportConfig,
  servers: readonly string[],
): Promise<NatsSession> {
  const driver = await loadDriver();
  const shown = servers.map(redactUrl).join(", ");
  // The driver reads no scheme from a URL: without TLS options it uses TLS
  // only when the server requires it, so a `tls://` URL to a server (or an
  // impostor) offering none went on in plaintext, credentials included.
  const tls = config.tls ?? (servers.some((url) => /^tls:\/\//i.test(url)) ? {} : undefined);
  let nc: NatsConnection;
  try {
    nc = await driver.core.connect({
      servers: [...servers],
      name: config.name ?? "conclave",
      ...(config.user === undefined ? {} : { user: config.user }),
      ...(config.pass === undefined ? {} : { pass: config.pass }),
      ...(config.token === undefined ? {} : { token: config.token }),
      ...(tls === undefined ? {} : { tls: tlsOptions(tls) }),
      maxReconnectAttempts: -1,
      reconnectTimeWait: config.reconnectTimeWaitMs ?? 2_000,
      timeout: config.connectTimeoutMs ?? NatsDefaults.connectTimeoutMs,
      // Without this the driver builds two Errors with stack traces per
      // request (two requests per task): about 30% of client CPU.
      noAsyncTraces: true,
    });
  } catch (error) {
    throw (
      (await tlsFailure(driver, error, servers, config, shown)) ??
      new TransportError(
        `cannot connect to NATS at ${shown}: ${describeCause(error)}; check that the server runs and the URL, credentials and TLS settings`,
        { cause: error },
      )
    );
  }
  const apiTimeoutMs = config.apiTimeoutMs ?? NatsDefaults.apiTimeoutMs;
  const clock: Clock = config.clock ?? systemClock;
  const budgetMs = config.ensureQueueRetryMs ?? NatsDefaults.ensureQueueRetryMs;
  let jsm: JetStreamManager;
  try {
    // A cluster without a leader yet times out or says "temporarily
    // unavailable" (JetStream switched off answers "not enabled" at once):
    // wait for it as ensureQueue does.
    jsm = await retryWhileUnavailable(
      () => driver.jetstream.jetstreamManager(nc, { timeout: apiTimeoutMs }),
      {
        clock,
        budgetMs,
        retryable: (error) => isTransient(driver, error, false),
        onFirstRetry: (error) =>
          config.onError?.(
            new TransportError(
              `JetStream at ${shown} does not answer yet (${describeCause(error)}); retrying for up to ${budgetMs} ms`,
              { cause: error },
            ),
          ),
        gaveUp: (error, attempts, elapsed) =>
          new TimeoutError(
            `JetStream at ${shown} did not answer in ${elapsed} ms (${attempts} attempts): a cluster may still be electing a leader, or most of its servers are down; check them, or raise ensureQueueRetryMs`,
            { cause: error },
          ),
      },
    );
  } catch (error) {
    await nc.close().catch(() => undefined);
    // A TimeoutError here is the retry giving up: a timeout itself is retried.
    if (error instanceof TimeoutError) throw error;
    throw new ConfigError(
      `JetStream is not available on the NATS server at ${shown}: ${describeCause(error)}; start nats-server with -js (or a jetstream {} block in its config)`,
      [],
      { cause: error },
    );
  }
  const js = driver.jetstream.jetstream(nc, { timeout: apiTimeoutMs });
  return { driver, nc, js, jsm };
}

/**
 * A failed connect explained as a TLS failure, when it is one: this client
 * refused the server's certificate (node says so at once), or the server
 * refused this client's. The latter reaches nats.js only as a connect
 * timeout (it misses the TLS 1.3 alert), so on a timeout with TLS in play
 * the handshake is repeated by hand to learn what the server said.
 */
async function tlsFailure(
  driver: Driver,
  error: unknown,
  servers: readonly string[],
  config: NatsTransportConfig,
  shown: string,
): Promise<Error | undefined> {
  const untrusted = untrustedServerCause(error);
  if (untrusted) {
    const detail = `${describeCause(untrusted.error)}, ${untrusted.code}`;
    return serverUntrustedError("NATS", shown, detail, error, true);
  }
  const usesTls = config.tls !== undefined || servers.some((url) => url.startsWith("tls://"));
  if (!usesTls || !isTimeout(driver, error)) return undefined;
  for (const url of servers.slice(0, 3)) {
    const endpoint = hostAndPort(url);
    if (!endpoint) continue;
    const found = await diagnoseNatsTls({
      ...endpoint,
      ...(config.tls?.ca === undefined ? {} : { ca: config.tls.ca }),
      ...(config.tls?.cert === undefined ? {} : { cert: config.tls.cert }),
      ...(config.tls?.key === undefined ? {} : { key: config.tls.key }),
      timeoutMs: Math.min(config.connectTimeoutMs ?? NatsDefaults.connectTimeoutMs, 5_000),
    });
    if (found.kind === "refused-by-server") {
      const fix = clientCertificateFix(config.tls?.cert !== undefined, "its ca_file");
      return serverRefusedError("NATS", shown, found.detail, fix, error);
    }
    if (found.kind === "server-untrusted") {
      return serverUntrustedError("NATS", shown, found.detail, error, false);
    }
    if (found.kind !== "unknown") return undefined;
  }
  return undefined;
}

/** Host and port of a server URL (`nats://h:p`, `tls://h:p`, `h:p`). */
function hostAndPort(url: string): { host: string; port: number } | undefined {
  try {
    const parsed = new URL(url.includes("://") ? url : `nats://${url}`);
    const host = parsed.hostname.replace(/^\[|\]$/g, "");
    return { host, port: Number(parsed.port || 4222) };
  } catch {
    return undefined;
  }
}
