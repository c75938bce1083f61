import type { ChannelModel } from "amqplib";
import { ConfigError } from "../../errors/index.js";
import { causeChain, errorCode } from "../cause-chain.js";
import {
  clientCertificateFix,
  serverRefusedError,
  serverUntrustedError,
  tlsAlertName,
  untrustedServerCause,
} from "../tls-errors.js";
import { settleWithin } from "./channel-slot.js";
import type { AmqpTlsOptions, ConnectionSettings } from "./config.js";
import { connectError } from "./errors.js";

type AmqpDriver = typeof import("amqplib");

async function loadDriver(): Promise<AmqpDriver> {
  try {
    const loaded = (await import("amqplib")) as AmqpDriver & { default?: AmqpDriver };
    return typeof loaded.connect === "function" ? loaded : (loaded.default ?? loaded);
  } catch (error) {
    throw new ConfigError(
      "the amqp transport needs the amqplib package; install it with `npm install amqplib`",
      [],
      { cause: error },
    );
  }
}

/**
 * Opens a connection (loading the driver on first use); a failure is
 * explained: a TLS handshake refused by either side, a refused login, or an
 * unreachable broker. Never mentions credentials.
 */
export async function openConnection(
  settings: ConnectionSettings,
  tls: AmqpTlsOptions | undefined,
): Promise<ChannelModel> {
  const driver = await loadDriver();
  try {
    return await driver.connect(settings.url, settings.socketOptions);
  } catch (error) {
    throw tlsFailure(error, settings.endpoint, tls) ?? connectError(error, settings.endpoint);
  }
}

/** Error codes of node's TLS client when the server sent a TLS alert: it refused the handshake. */
const SERVER_ALERT_CODE = /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/;

/**
 * A failed connect explained as a TLS failure, when it is one: this client
 * did not trust the server's certificate, or the server refused this
 * client's (or its lack of one, under mutual TLS). Otherwise undefined.
 */
function tlsFailure(
  error: unknown,
  endpoint: string,
  tls: AmqpTlsOptions | undefined,
): Error | undefined {
  const untrusted = untrustedServerCause(error);
  if (untrusted) {
    const detail = `${untrusted.error.message}, ${untrusted.code}`;
    return serverUntrustedError("RabbitMQ", endpoint, detail, error, true);
  }
  for (const e of causeChain(error)) {
    const code = errorCode(e);
    if (code === undefined || !SERVER_ALERT_CODE.test(code)) continue;
    const alert = tlsAlertName(e.message) ?? code;
    const fix = /protocol version|insufficient security/.test(alert)
      ? "check that this client and the server share a TLS version and cipher (the server's ssl_options.versions and ssl_options.ciphers)"
      : clientCertificateFix(tls?.cert !== undefined, "its ssl_options.cacertfile");
    return serverRefusedError("RabbitMQ", endpoint, `TLS alert: ${alert}`, fix, error);
  }
  return undefined;
}

/** Closes a connection gracefully, or drops its socket when the broker does not answer. */
export async function closeModel(model: ChannelModel): Promise<void> {
  if (await settleWithin(model.close())) return;
  const connection = model.connection as { stream?: { destroy?: () => void } };
  try {
    connection.stream?.destroy?.();
  } catch {
    // Already gone.
  }
}
