/**
 * The usage error a server of the CLI gives when it cannot listen: which
 * option to change. Kept apart from `cli-options.ts`, which `run.ts` cannot
 * import (that would close a cycle through `demo.ts`).
 */
import { addressProblem, listenErrorCode } from "../core/listen.js";
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
  const because = (text: string) =>
    new ConfigError(`cannot serve ${what} on ${host}:${port}: ${text}`, [], { cause: error });
  const why = addressProblem(listenErrorCode(error), host, flags);
  if (why !== undefined) return because(why);
  return flags.wrap && !(error instanceof ConfigError) ? because(toError(error).message) : error;
}
