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

/**
 * The address a server of conclave is to bind, checked (`what` names it in
 * the error): a port out of range was a bare RangeError from `listen`, and
 * an empty host bound every interface (not the loopback these servers
 * default to) and gave a URL with no host. Every server of conclave calls it
 * before it listens.
 *
 * @throws ConfigError naming what to pass.
 */
export function checkListenAddress(what: string, port: unknown, host: unknown): string {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(
      `${what}: port must be a whole number from 0 to 65535 (0 picks a free one), got ${JSON.stringify(port) ?? String(port)}`,
    );
  }
  if (typeof host !== "string" || host.trim() === "") {
    throw new ConfigError(
      `${what}: host must be an address to bind, e.g. "127.0.0.1" (the default: this machine only) or "0.0.0.0" (every interface), got ${JSON.stringify(host) ?? String(host)}`,
    );
  }
  return host;
}

/**
 * Whether a request's `Host` header names this machine's loopback (or there
 * is none: no browser sends such a request). A server bound to the loopback
 * answers only those: a page of any site can reach it by DNS rebinding (its
 * own name re-resolved to 127.0.0.1), but its requests still name its host.
 */
export function namesLoopback(header: string | undefined): boolean {
  return header === undefined || isLoopback(hostOf(header));
}

/** Whether `name` (an address to bind, or the name a request was sent to) is this machine's loopback. */
export function isLoopback(name: string): boolean {
  const bare = name.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return (
    bare === "localhost" ||
    bare.endsWith(".localhost") ||
    bare === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare)
  );
}

/** The name in a `Host` header, without its port: `[::1]:9464` → `[::1]`, `localhost:9464` → `localhost`. */
function hostOf(header: string): string {
  if (header.startsWith("[")) return header.slice(0, header.indexOf("]") + 1);
  return header.split(":")[0] ?? "";
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
