/**
 * The errors of MCP tools used by LLM agents: a server that cannot be
 * reached, a tool it does not offer, a call that failed on the way.
 *
 * Kept in their own file (like `llm.ts`): `index.ts` is what they extend.
 */
import { ConclaveError, ConfigError } from "./index.js";

/**
 * An MCP server named under `mcp:` could not be started, reached or listed.
 * Raised when the swarm starts (before any task runs), or by a call when a
 * server that went away cannot be reached again (then the task is retried).
 */
export class McpServerUnavailableError extends ConclaveError {
  constructor(
    readonly server: string,
    /** How it is reached, for the message: `node server.js` or its URL. */
    readonly endpoint: string,
    options?: { cause?: unknown },
  ) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(
      "E_MCP_UNAVAILABLE",
      `cannot reach MCP server "${server}" (${endpoint})${reason}; check mcp.${server} in the swarm file and that the server runs`,
      options,
    );
  }
}

/**
 * An agent's `llm.tools` names `mcp:<server>/<tool>` (or the server's
 * `costs` prices a tool), and the server offers no such tool.
 */
export class McpToolNotFoundError extends ConfigError {
  override readonly code: string = "E_MCP_TOOL_NOT_FOUND";

  constructor(
    readonly server: string,
    readonly tool: string,
    readonly offered: readonly string[],
    /** What names the tool, for the message. */
    where = `mcp:${server}/${tool} in the agent's llm.tools`,
  ) {
    super(
      `MCP server "${server}" offers no tool "${tool}" (it offers: ${offered.join(", ") || "nothing"}); fix ${where}`,
    );
  }
}

/** The call to an MCP tool failed on the way (not a tool error, which the model sees): the task is retried. */
export class McpCallFailedError extends ConclaveError {
  constructor(
    readonly server: string,
    readonly tool: string,
    options?: { cause?: unknown },
  ) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(
      "E_MCP_CALL_FAILED",
      `calling tool "${tool}" of MCP server "${server}" failed${reason}; a transient failure (raise mcp.${server}.timeoutMs if the tool is slow)`,
      options,
    );
  }
}
