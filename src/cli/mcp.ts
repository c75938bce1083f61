/**
 * `conclave mcp --swarm FILE`: runs the swarm in this process and serves the
 * tasks its gateway offers as MCP tools, over stdio (a desktop assistant or
 * an IDE starts this command) or streamable HTTP (`--http`), until
 * SIGINT/SIGTERM (or, over stdio, until the client closes stdin).
 *
 * Over stdio, stdout carries the protocol and nothing else: logs go to stderr.
 */
import pino from "pino";
import { loadSwarmConfig } from "../config/load.js";
import { ConfigError } from "../errors/index.js";
import { createFrontDoor } from "../interop/front-door.js";
import { createSwarmMcpServer, STDIO_CALLER, serveMcpHttp } from "../interop/mcp-server.js";
import { openSwarm } from "../runtime/from-config.js";
import { listenFailure } from "./listen-failure.js";

export interface McpCommandOptions {
  /** Serve streamable HTTP instead of stdio. */
  readonly http: boolean;
  readonly host?: string;
  readonly port?: number;
  /** Only these agents run here, and the gateway's agent (`gateway.as`). */
  readonly agents?: readonly string[];
  readonly logLevel: string;
}

/** Runs `conclave mcp`; resolves with the exit code once stopped. */
export async function serveMcp(file: string, options: McpCommandOptions): Promise<number> {
  const config = await loadSwarmConfig(file);
  if (config.gateway === undefined) {
    throw new ConfigError(
      `${file} has no gateway: section; add one naming the agent that signs outside requests (as:), the callers' tokens and the tasks to offer (expose:), e.g. gateway: { as: lead, tokens: { ide: \${CONCLAVE_IDE_TOKEN} }, expose: [{ role: writer, task: write }] }`,
    );
  }
  const log = pino({ name: "conclave-mcp", level: options.logLevel }, pino.destination(2));
  // The gateway's agent signs (and pays for) every task a caller starts: it
  // runs here whatever --agents names, as under `conclave gateway a2a`.
  const agents =
    options.agents === undefined ? undefined : [...new Set([...options.agents, config.gateway.as])];
  const swarm = await openSwarm(config, agents === undefined ? {} : { agents });
  swarm.on((event) => {
    if (event.type === "error") log.error({ event: event.type }, event.error);
    else if (event.type === "task.dead_lettered") {
      log.warn({ event: event.type, id: event.id }, event.reason);
    }
  });
  const stopped = new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  try {
    await swarm.start();
    const door = createFrontDoor(swarm, config);
    if (options.http) {
      const server = await serveMcpHttp(door, {
        ...(options.host === undefined ? {} : { host: options.host }),
        ...(options.port === undefined ? {} : { port: options.port }),
        onError: (error) => log.error({ event: "mcp" }, error.message),
      }).catch((error: unknown) => {
        throw listenFailure(
          error,
          "MCP",
          options.host ?? door.gateway.host,
          options.port ?? door.gateway.port,
        );
      });
      process.stderr.write(`mcp: ${server.url}\n`);
      const signal = await stopped;
      log.info({ event: "mcp" }, `stopping on ${signal}`);
      await server.close();
    } else {
      const { StdioServerTransport } = await import("@modelcontextprotocol/sdk/server/stdio.js");
      const server = createSwarmMcpServer(door, STDIO_CALLER);
      // The client closing our stdin is the end of the session.
      const ended = new Promise<string>((resolve) => {
        process.stdin.once("end", () => resolve("end of input"));
        process.stdin.once("close", () => resolve("end of input"));
      });
      await server.connect(new StdioServerTransport());
      log.info({ event: "mcp" }, `serving ${door.offered().length} tools over stdio`);
      await Promise.race([stopped, ended]);
      await server.close();
    }
  } finally {
    await swarm.drain().catch(() => swarm.close());
  }
  return 0;
}
