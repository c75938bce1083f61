/**
 * Starts a server listening, the one way every server of conclave does (the
 * metrics endpoint, the dashboard, the A2A gateway, the MCP server). An
 * address it cannot listen on is a `ConfigError` that says which address and
 * what to change, with the system's error (its `code`: `EADDRINUSE`, ...) kept
 * as the cause, instead of a bare `listen EADDRINUSE` from deep in Node.
 */
import type { Server } from "node:net";
import { ConclaveError, ConfigError } from "../errors/index.js";

/**
 * Why `host` cannot be listened on, for the system error `code`, saying
 * which setting to change (`names`: how the caller calls the port and the
 * host, e.g. `--port`); undefined when the address is not the problem.
 */
export function addressProblem(
  code: string | undefined,
  host: string,
  names: { readonly port: string; readonly host: string },
): string | undefined {
  if (code === "EADDRINUSE") return `the port is in use; pick another ${names.port}`;
  if (code === "EACCES") {
    return `not allowed to listen there (ports below 1024 need privileges); pick another ${names.port}`;
  }
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return `${host} is not an address of this machine; pick another ${names.host}`;
  }
  return undefined;
}

/** Listens on `host:port`; `what` names the server in the error. */
export async function listenOn(
  server: Server,
  port: number,
  host: string,
  what: string,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => reject(listenError(error, what, host, port));
    server.once("error", failed);
    server.listen(port, host, () => {
      server.off("error", failed);
      resolve();
    });
  });
}

/**
 * The system error code behind a listen failure (`EADDRINUSE`, ...), whether
 * wrapped by `listenOn` (a ConclaveError's own `code` is conclave's, so its
 * cause's is read) or not.
 */
export function listenErrorCode(error: unknown): string | undefined {
  const at = error instanceof ConclaveError ? error.cause : error;
  const code = (at as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

function listenError(error: Error, what: string, host: string, port: number): Error {
  const why = addressProblem(listenErrorCode(error), host, {
    port: "port (0 picks a free one)",
    host: "host (127.0.0.1 for this machine only)",
  });
  if (why === undefined) return error;
  return new ConfigError(`cannot serve ${what} on ${host}:${port}: ${why}`, [], { cause: error });
}
