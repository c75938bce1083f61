/**
 * The usage error a server of the CLI gives when it cannot listen: which
 * option to change. Kept apart from `cli-options.ts`, which `run.ts` cannot
 * import (that would close a cycle through `demo.ts`).
 */
import { listenErrorCode } from "../core/listen.js";
import { ConfigError, toError } from "../errors/index.js";

/**
 * Why a server (`gateway a2a`, `mcp --http`, `up --metrics`, `up
 * --dashboard`) could not listen on `host:port`, as a usage error saying
 * which option to change (`flags`: their names, default `--port` and
 * `--host`) when the address is the cause; any other error is returned as
 * it is, or with `flags.wrap` as a ConfigError saying what failed.
 */
export function listenFailure(
  error: unknown,
  what: string,
  host: string,
  port: number,
  flags: { readonly port: string; readonly host: string; readonly wrap?: true } = {
    port: "--port",
    host: "--host",
  },
): unknown {
  const code = listenErrorCode(error);
  const at = `cannot serve ${what} on ${host}:${port}`;
  const because = (text: string) => new ConfigError(`${at}: ${text}`, [], { cause: error });
  if (code === "EADDRINUSE") return because(`the port is in use; pick another ${flags.port}`);
  if (code === "EACCES")
    return because(
      `not allowed to listen there (ports below 1024 need privileges); pick another ${flags.port}`,
    );
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN")
    return because(`${host} is not an address of this machine; pick another ${flags.host}`);
  return flags.wrap && !(error instanceof ConfigError) ? because(toError(error).message) : error;
}
