// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is documented literally.
// The `mcp:` section of a swarm file: MCP servers whose tools LLM agents may
// call. An agent names them in `llm.tools` as `mcp:<server>` (every tool of
// the server) or `mcp:<server>/<tool>` (one tool); the runtime connects to
// the servers its agents name, lists their tools once, and runs each call as
// a journaled step, charging the tool's cost (if any) to the agent.
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { shownUrl } from "./connection.js";
import { expecting, type IssueInput, integer, isRecord, path } from "./fields.js";
import { didYouMean, quoteList } from "./messages.js";

/** A server started as a child process, speaking MCP over its stdin/stdout. */
export interface McpStdioServerConfig {
  readonly name: string;
  readonly transport: "stdio";
  /** The program to run (`node`, `npx`, `/usr/local/bin/files-server`). */
  readonly command: string;
  readonly args: readonly string[];
  /** Extra environment variables; the child also inherits PATH, HOME and the like (not secrets). */
  readonly env: Readonly<Record<string, string>>;
  /** Working folder of the child; absolute once loaded (default: the swarm file's folder). */
  readonly cwd?: string;
  /** Credits charged per call, by tool name. Tools not listed cost nothing. */
  readonly costs: Readonly<Record<string, number>>;
  /** Longest one tool call may take, in ms. */
  readonly timeoutMs: number;
}

/** A server reached over MCP's streamable HTTP transport. */
export interface McpHttpServerConfig {
  readonly name: string;
  readonly transport: "http";
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>`; write it as `${VAR}`. */
  readonly token?: string;
  readonly costs: Readonly<Record<string, number>>;
  readonly timeoutMs: number;
}

/** One server of the swarm file's `mcp:` section: a command over stdio, or a URL over HTTP. */
export type McpServerConfig = McpStdioServerConfig | McpHttpServerConfig;

/** How an agent's `llm.tools` entry names MCP tools: `mcp:<server>` or `mcp:<server>/<tool>`. */
export const MCP_TOOL_REFERENCE = /^mcp:([A-Za-z0-9_-]{1,64})(?:\/([A-Za-z0-9_./-]{1,128}))?$/;

/** The server and (for one tool) the tool an `llm.tools` entry names, or undefined for other tools. */
export function parseMcpToolReference(
  entry: string,
): { readonly server: string; readonly tool?: string } | undefined {
  const match = MCP_TOOL_REFERENCE.exec(entry);
  if (match?.[1] === undefined) return undefined;
  return match[2] === undefined ? { server: match[1] } : { server: match[1], tool: match[2] };
}

const DEFAULT_TIMEOUT_MS = 60_000;

const costs = z
  .record(z.string().min(1), integer(0, Number.MAX_SAFE_INTEGER))
  .default({})
  .describe("Credits charged per call, by tool name, e.g. { search_web: 5 }. Default: free.");

/** The section as written; `buildMcp` applies defaults. */
export const mcpSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, {
      error: expecting("a server name of letters, digits, '_' or '-'"),
    }),
    z.strictObject({
      command: z
        .array(z.string().min(1), { error: expecting("the command and its arguments as a list") })
        .min(1, { error: "give the program to run, e.g. command: [node, server.js]" })
        .optional()
        .describe("Start the server as a child process speaking MCP over stdio: [program, args…]."),
      env: z
        .record(z.string(), z.string())
        .default({})
        .describe("Extra environment variables of the child (stdio only)."),
      cwd: path
        .optional()
        .describe("Working folder of the child (stdio only); default the swarm file's folder."),
      url: z
        .url({
          protocol: /^https?$/,
          // It may carry credentials from the environment: echoed redacted.
          error: (issue: IssueInput) =>
            issue.input === undefined
              ? undefined
              : `expected an http:// or https:// URL, got ${shownUrl(issue.input)}`,
        })
        .optional()
        .describe("Reach the server over MCP streamable HTTP at this URL."),
      token: z
        .string()
        .min(1)
        .optional()
        .describe("Bearer token for an HTTP server; write it as ${VAR}."),
      costs,
      timeoutMs: integer(1, 24 * 3600 * 1000)
        .default(DEFAULT_TIMEOUT_MS)
        .describe("Longest one tool call may take, in ms."),
    }),
  )
  .default({})
  .describe(
    "MCP servers whose tools LLM agents may call: name them in an agent's llm.tools as mcp:<server> or mcp:<server>/<tool>.",
  );

type Issue = { path: (string | number)[]; message: string };

/** Cross-field checks: each server is stdio or HTTP, and every `mcp:` tool an agent names is declared. */
export function checkMcp(mcp: unknown, agents: unknown, addIssue: (issue: Issue) => void): void {
  const servers = isRecord(mcp) ? mcp : {};
  for (const [name, server] of Object.entries(servers)) {
    if (!isRecord(server)) continue;
    const stdio = server["command"] !== undefined;
    const http = server["url"] !== undefined;
    if (stdio === http) {
      addIssue({
        path: ["mcp", name],
        message: stdio
          ? "give either command (a stdio server) or url (an HTTP server), not both"
          : "give command: [program, args…] for a stdio server, or url: for an HTTP server",
      });
    }
    for (const key of ["env", "cwd"] as const) {
      const value = server[key];
      const given = isRecord(value) ? Object.keys(value).length > 0 : value !== undefined;
      if (http && given) {
        addIssue({ path: ["mcp", name, key], message: `${key} applies to stdio servers only` });
      }
    }
    if (stdio && server["token"] !== undefined) {
      addIssue({
        path: ["mcp", name, "token"],
        message: "token applies to HTTP servers only; pass a stdio server's secrets in env",
      });
    }
  }
  if (!Array.isArray(agents)) return;
  const names = Object.keys(servers);
  agents.forEach((agent, i) => {
    const llm = isRecord(agent) ? agent["llm"] : undefined;
    const tools = isRecord(llm) && Array.isArray(llm["tools"]) ? llm["tools"] : [];
    tools.forEach((entry, j) => {
      if (typeof entry !== "string" || !entry.startsWith("mcp:")) return;
      const reference = parseMcpToolReference(entry);
      if (reference === undefined) {
        addIssue({
          path: ["agents", i, "llm", "tools", j],
          message: `expected mcp:<server> or mcp:<server>/<tool>, got "${entry}"`,
        });
      } else if (!(reference.server in servers)) {
        addIssue({
          path: ["agents", i, "llm", "tools", j],
          message: `no MCP server "${reference.server}" is declared${didYouMean(reference.server, names)}; declare it under mcp:${names.length > 0 ? ` (declared: ${quoteList(names)})` : ""}`,
        });
      }
    });
  });
}

/** The section with defaults applied, each server knowing its name and transport. */
export function buildMcp(
  parsed: z.output<typeof mcpSchema>,
): Readonly<Record<string, McpServerConfig>> {
  const built: Record<string, McpServerConfig> = {};
  for (const [name, s] of Object.entries(parsed)) {
    const [command, ...args] = s.command ?? [];
    built[name] =
      command !== undefined
        ? {
            name,
            transport: "stdio",
            command,
            args,
            env: s.env,
            ...(s.cwd === undefined ? {} : { cwd: s.cwd }),
            costs: s.costs,
            timeoutMs: s.timeoutMs,
          }
        : {
            name,
            transport: "http",
            url: s.url ?? "",
            ...(s.token === undefined ? {} : { token: s.token }),
            costs: s.costs,
            timeoutMs: s.timeoutMs,
          };
  }
  return built;
}

/** Makes a stdio server's working folder absolute: relative to `baseDir`, which is also the default. */
export function resolveMcpPaths(
  servers: Readonly<Record<string, McpServerConfig>>,
  baseDir: string,
): Record<string, McpServerConfig> {
  return Object.fromEntries(
    Object.entries(servers).map(([name, server]) => [
      name,
      server.transport === "stdio"
        ? {
            ...server,
            cwd:
              server.cwd === undefined
                ? baseDir
                : isAbsolute(server.cwd)
                  ? server.cwd
                  : resolve(baseDir, server.cwd),
          }
        : server,
    ]),
  );
}
