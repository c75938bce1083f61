import { readFile } from "node:fs/promises";
import { isIP, connect as tcpConnect } from "node:net";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { tlsAlertName } from "../tls-errors.js";

/** What a TLS check against a NATS server found. */
export type TlsDiagnosis =
  /** The server does not ask for TLS. */
  | { readonly kind: "plain" }
  /** The TLS session was set up and the server answered over it. */
  | { readonly kind: "ok" }
  /** The server refused this client's certificate (or the lack of one). */
  | {
      readonly kind: "refused-by-server";
      readonly detail: string;
      readonly verifiesClients: boolean;
    }
  /** This client refused the server's certificate. */
  | { readonly kind: "server-untrusted"; readonly detail: string }
  /** Nothing conclusive (unreachable, no INFO, ...). */
  | { readonly kind: "unknown"; readonly detail: string };

export interface TlsDiagnosisInput {
  readonly host: string;
  readonly port: number;
  /** PEM text or file paths, as given to the transport. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly timeoutMs: number;
}

const pem = async (value: string | undefined): Promise<string | Buffer | undefined> => {
  if (value === undefined) return undefined;
  return value.includes("-----BEGIN") ? value : readFile(value);
};

/**
 * Repeats a NATS connection's TLS upgrade by hand, to tell why one failed:
 * nats.js does not see the TLS 1.3 alert a server sends when it refuses the
 * client's certificate (the handshake completes on the client's side first),
 * so such a refusal reaches it as a connect timeout. This reads the server's
 * INFO, upgrades to TLS with the same files, sends CONNECT and PING, and
 * reports what came back.
 */
export async function diagnoseNatsTls(input: TlsDiagnosisInput): Promise<TlsDiagnosis> {
  let ca: string | Buffer | undefined;
  let cert: string | Buffer | undefined;
  let key: string | Buffer | undefined;
  try {
    [ca, cert, key] = await Promise.all([pem(input.ca), pem(input.cert), pem(input.key)]);
  } catch (error) {
    return { kind: "unknown", detail: `cannot read the TLS files: ${(error as Error).message}` };
  }
  return new Promise<TlsDiagnosis>((resolve) => {
    let settled = false;
    let secure: TLSSocket | undefined;
    const socket = tcpConnect({ host: input.host, port: input.port });
    const finish = (result: TlsDiagnosis) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure?.destroy();
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ kind: "unknown", detail: `no answer within ${input.timeoutMs} ms` }),
      input.timeoutMs,
    );
    let buffered = "";
    const onInfo = (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      const end = buffered.indexOf("\r\n");
      if (end === -1) return;
      socket.off("data", onInfo);
      const line = buffered.slice(0, end);
      if (!line.startsWith("INFO ")) {
        finish({ kind: "unknown", detail: "the server did not start with INFO" });
        return;
      }
      let info: { tls_required?: boolean; tls_verify?: boolean };
      try {
        info = JSON.parse(line.slice(5)) as typeof info;
      } catch {
        finish({ kind: "unknown", detail: "the server's INFO is not JSON" });
        return;
      }
      if (!info.tls_required) {
        finish({ kind: "plain" });
        return;
      }
      const verifiesClients = info.tls_verify === true;
      secure = tlsConnect({
        socket,
        host: input.host,
        // SNI takes host names only.
        ...(isIP(input.host) === 0 ? { servername: input.host } : {}),
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
      });
      secure.once("secureConnect", () => {
        secure?.write('CONNECT {"verbose":false,"pedantic":false,"tls_required":true}\r\nPING\r\n');
      });
      secure.on("data", (data: Buffer) => {
        const text = data.toString("latin1");
        if (/PONG|INFO/.test(text)) finish({ kind: "ok" });
        else if (text.startsWith("-ERR")) {
          finish({ kind: "refused-by-server", detail: text.trim(), verifiesClients });
        }
      });
      secure.once("error", (error: NodeJS.ErrnoException) => {
        const code = error.code ?? "";
        if (/ALERT/.test(code)) {
          const alert = tlsAlertName(error.message);
          finish({
            kind: "refused-by-server",
            detail: `TLS alert: ${alert ?? code}`,
            verifiesClients,
          });
        } else {
          finish({ kind: "server-untrusted", detail: `${error.message} (${code || "no code"})` });
        }
      });
      secure.once("close", () =>
        finish({
          kind: "refused-by-server",
          detail: "the server closed the connection during the TLS handshake",
          verifiesClients,
        }),
      );
    };
    socket.on("data", onInfo);
    socket.once("error", (error) => finish({ kind: "unknown", detail: error.message }));
  });
}
