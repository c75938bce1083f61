/**
 * What a failed TLS handshake with a broker means and what to do about it,
 * written once for every broker adapter so that NATS and RabbitMQ explain
 * the same failure in the same words. The adapters find out which side
 * refused (each broker's driver reports it differently); the explanation is
 * made here.
 */

import { TlsHandshakeError } from "../errors/index.js";
import { causeChain, errorCode } from "./cause-chain.js";

/** Error codes of node's TLS client when it does not trust the server's certificate. */
export const UNTRUSTED_SERVER_CODES =
  /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/** The broker a connection failed to reach, as named in messages. */
export type BrokerName = "NATS" | "RabbitMQ";

/** The error in `error`'s cause chain saying that this client refused the server's certificate. */
export function untrustedServerCause(
  error: unknown,
): { readonly error: Error; readonly code: string } | undefined {
  for (const e of causeChain(error)) {
    const code = errorCode(e);
    if (code !== undefined && UNTRUSTED_SERVER_CODES.test(code)) return { error: e, code };
  }
  return undefined;
}

/**
 * The name of the TLS alert in an OpenSSL error message (`bad certificate`,
 * `certificate required`, ...): OpenSSL's text is long and may span lines,
 * and the alert's name is what helps.
 */
export function tlsAlertName(message: string): string | undefined {
  return /alert ([a-z0-9 _]+?)(?::|$)/im.exec(message)?.[1];
}

/**
 * This client does not trust the server's certificate. `detail` says what
 * the TLS client reported; `checkCertificate` adds the other usual causes
 * (wrong host name, expired), when the report could mean those.
 */
export function serverUntrustedError(
  broker: BrokerName,
  endpoint: string,
  detail: string,
  cause: unknown,
  checkCertificate: boolean,
): TlsHandshakeError {
  const check = checkCertificate
    ? ", and check that the certificate names the host you connect to and has not expired"
    : "";
  return new TlsHandshakeError(
    "server-untrusted",
    `cannot connect to ${broker} at ${endpoint}: the TLS handshake failed because this client does not trust the server's certificate (${detail}); set tls.ca (broker.tls.ca in a swarm file) to the CA that signed it${check}`,
    { cause },
  );
}

/** The server refused the handshake (`detail`: what it said); `fix` says what to change. */
export function serverRefusedError(
  broker: BrokerName,
  endpoint: string,
  detail: string,
  fix: string,
  cause: unknown,
): TlsHandshakeError {
  return new TlsHandshakeError(
    "server-refused",
    `cannot connect to ${broker} at ${endpoint}: the server refused the TLS handshake (${detail}); ${fix}`,
    { cause },
  );
}

/**
 * What to change when the server refused this client's certificate, or its
 * lack of one. `serverCaSetting` names the server's setting of the CAs it
 * trusts for clients (e.g. `its ca_file`).
 */
export function clientCertificateFix(
  hasClientCertificate: boolean,
  serverCaSetting: string,
): string {
  return hasClientCertificate
    ? `check that tls.cert (broker.tls.cert) was signed by a CA the server trusts (${serverCaSetting}), matches tls.key, and has not expired`
    : "it requires a client certificate: set tls.cert and tls.key (broker.tls.cert and broker.tls.key in a swarm file) to a certificate signed by a CA the server trusts";
}
