/**
 * Starts a server listening, the one way every server of conclave does (the
 * metrics endpoint, the dashboard, the A2A gateway, the MCP server). An
 * address it cannot listen on is a `ConfigError` that says which address and
 * what to change, with the system's error (its `code`: `EADDRINUSE`, ...) kept
 * as the cause, instead of a bare `listen EADDRINUSE` from deep in Node.
 */
import type { Server } from "node:net";
import { ConclaveError, ConfigError } from "../errors/index.js";

/** The system error codes that mean the address is the problem. */
const ADDRESS_CODES = new Set(["EADDRINUSE", "EACCES", "EADDRNOTAVAIL", "ENOTFOUND", "EAI_AGAIN"]);

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
  const code = listenErrorCode(error);
  if (code === undefined || !ADDRESS_CODES.has(code)) return error;
  const at = `cannot serve ${what} on ${host}:${port}`;
  const why =
    code === "EADDRINUSE"
      ? "the port is in use; pick another port (0 picks a free one)"
      : code === "EACCES"
        ? "not allowed to listen there (ports below 1024 need privileges); pick another port"
        : `${host} is not an address of this machine; pick another host (127.0.0.1 for this machine only)`;
  return new ConfigError(`${at}: ${why}`, [], { cause: error });
}
