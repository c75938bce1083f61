/**
 * The A2A gateway: a swarm behind the Agent2Agent protocol. It serves the
 * swarm's agent card at `/.well-known/agent-card.json` (and one per role at
 * `/roles/<role>/.well-known/agent-card.json`) and A2A JSON-RPC at `/a2a`
 * (`/roles/<role>/a2a`): v1.0 (`SendMessage`, `SendStreamingMessage`,
 * `GetTask`, `CancelTask`, `SubscribeToTask`) and v0.3 (`message/send`,
 * `message/stream`, `tasks/get`, `tasks/cancel`, `tasks/resubscribe`),
 * chosen by the `A2A-Version` header as the SDK's own servers do.
 *
 * Served with `node:http` and the SDK's transport handlers rather than its
 * Express middleware, so that the {@link HttpGuard} (credentials, rate,
 * body size) runs before the SDK reads a byte of the request.
 *
 * @example
 * ```ts
 * const swarm = await openSwarm(config);
 * await swarm.start();
 * const gateway = await startA2AGateway(swarm, config, { port: 0 });
 * console.log(gateway.cardUrl);
 * await gateway.close();
 * ```
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { AgentCard, formatSSEErrorEvent, formatSSEEvent, SSE_HEADERS } from "@a2a-js/sdk";
import { LegacyJsonRpcTransportHandler } from "@a2a-js/sdk/compat/v0_3/server";
import { JsonRpcTransportHandler, ServerCallContext, validateVersion } from "@a2a-js/sdk/server";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import type { Clock } from "../core/clock.js";
import { checkListenAddress, listenOn } from "../core/listen.js";
import type { Swarm } from "../runtime/swarm.js";
import { agentCard, GatewayPaths, legacyAgentCard } from "./a2a-card.js";
import { CallState, GatewayMemory, SwarmA2AHandler } from "./a2a-handler.js";
import { legacyErrorBody, noteErrors, withLegacyData } from "./a2a-legacy.js";
import { createFrontDoor, type FrontDoor } from "./front-door.js";
import { HttpGuard, readPem, refuse } from "./http-guard.js";

export interface A2AGatewayOptions {
  /** Overrides `gateway.host`. */
  readonly host?: string;
  /** Overrides `gateway.port` (0: any free port). */
  readonly port?: number;
  /** The rate limiter's clock (tests). */
  readonly clock?: Clock;
  /** Told about failures no caller can be told about (a broken stream). Default: ignored. */
  readonly onError?: (error: unknown) => void;
}

/** A running gateway. */
export interface A2AGateway {
  /** `http(s)://host:port`, as bound. */
  readonly url: string;
  /** The swarm's agent card. */
  readonly cardUrl: string;
  readonly frontDoor: FrontDoor;
  /**
   * Stops listening, ends open streams and connections, and stops settling
   * escrows (a gateway opened later takes up those still open). The swarm
   * is the caller's to close.
   */
  close(): Promise<void>;
}

type RpcHandler = Pick<JsonRpcTransportHandler, "handle">;

interface Endpoint {
  readonly role: string | undefined;
  readonly handler: SwarmA2AHandler;
  readonly v1: RpcHandler;
  readonly legacy: RpcHandler;
}

const LEGACY_VERSION = "0.3";

/** Starts serving `swarm` (started by the caller) over A2A with the file's `gateway:` settings. */
export async function startA2AGateway(
  swarm: Swarm,
  config: SwarmFile,
  options: A2AGatewayOptions = {},
): Promise<A2AGateway> {
  const door = createFrontDoor(swarm, config);
  const settings = door.gateway;
  const guard = new HttpGuard(settings, options.clock);
  const tls = settings.tls;
  const scheme = tls === undefined ? "http" : "https";
  const memory = new GatewayMemory();
  const live = new Set<AbortController>();
  let base = "";
  const endpoints = new Map<string | undefined, Endpoint>();
  const roles = [undefined, ...new Set(door.offered().map((o) => o.role))];
  for (const role of roles) {
    const handler = new SwarmA2AHandler({
      frontDoor: door,
      memory,
      card: () => agentCard(door, base, role),
      ...(role === undefined ? {} : { role }),
    });
    endpoints.set(role, {
      role,
      handler,
      v1: new JsonRpcTransportHandler(handler),
      legacy: new LegacyJsonRpcTransportHandler(noteErrors(handler)),
    });
  }

  const route = (path: string): { kind: "card" | "rpc"; endpoint: Endpoint } | undefined => {
    const match = /^(?:\/roles\/([^/]+))?(\/\.well-known\/agent-card\.json|\/a2a)\/?$/.exec(path);
    if (!match) return undefined;
    let role: string | undefined;
    try {
      role = match[1] === undefined ? undefined : decodeURIComponent(match[1]);
    } catch {
      return undefined; // a malformed %-escape names no role
    }
    const endpoint = endpoints.get(role);
    if (!endpoint) return undefined;
    return { kind: match[2] === GatewayPaths.rpc ? "rpc" : "card", endpoint };
  };

  const serve = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? "/", "http://gateway").pathname;
    const target = route(path);
    if (!target) {
      sendJson(response, 404, {
        error: {
          code: "E_NOT_FOUND",
          message: `nothing at ${path}: the card is at ${GatewayPaths.card}, A2A JSON-RPC at ${GatewayPaths.rpc}; roles under /roles/<role>/ (${roles.filter(Boolean).join(", ")})`,
        },
      });
      return;
    }
    if (target.kind === "card") {
      if (request.method !== "GET" && request.method !== "HEAD") {
        response.setHeader("allow", "GET, HEAD");
        sendJson(response, 405, { error: { code: "E_METHOD", message: "GET the agent card" } });
        return;
      }
      // The card is public, as A2A discovery expects: it names skills, never
      // secrets. Its URLs use the host the caller reached us by (a gateway
      // bound to 0.0.0.0 has no one address to give).
      const reached = request.headers.host;
      const origin = reached ? `${scheme}://${reached}` : base;
      const card = agentCard(door, origin, target.endpoint.role);
      response.setHeader("vary", "A2A-Version");
      sendJson(
        response,
        200,
        requestedVersion(request) === LEGACY_VERSION
          ? legacyAgentCard(card)
          : AgentCard.toJSON(card),
      );
      return;
    }
    if (request.method !== "POST") {
      response.setHeader("allow", "POST");
      sendJson(response, 405, {
        error: { code: "E_METHOD", message: "POST A2A JSON-RPC requests" },
      });
      return;
    }
    let caller: string;
    let body: Buffer;
    try {
      caller = guard.admit(request);
      body = await guard.body(request);
    } catch (error) {
      refuse(response, error);
      return;
    }
    await answerRpc(request, response, target.endpoint, caller, body);
  };

  const answerRpc = async (
    request: IncomingMessage,
    response: ServerResponse,
    endpoint: Endpoint,
    caller: string,
    body: Buffer,
  ): Promise<void> => {
    const version = requestedVersion(request);
    const legacy = version === LEGACY_VERSION;
    const mapError = legacy ? legacyErrorBody : JsonRpcTransportHandler.mapToJSONRPCError;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      sendJson(response, 200, {
        jsonrpc: "2.0",
        id: null,
        error: { code: -32700, message: "the request body is not JSON" },
      });
      return;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      sendJson(response, 200, {
        jsonrpc: "2.0",
        id: null,
        error: {
          code: -32600,
          message: `the request body is ${Array.isArray(parsed) ? "an array (a batch, which A2A does not take)" : parsed === null ? "null" : `a ${typeof parsed}`}; send one JSON-RPC request object: {"jsonrpc":"2.0","id":1,"method":…,"params":…}`,
        },
      });
      return;
    }
    const rpc = parsed as Record<string, unknown>;
    const id = rpc["id"] ?? null;
    const abort = new AbortController();
    live.add(abort);
    response.on("close", () => abort.abort());
    try {
      const context = new ServerCallContext({
        user: { isAuthenticated: true, userName: caller },
        requestedVersion: version,
        state: new Map<string, unknown>([
          [CallState.caller, caller],
          [CallState.signal, abort.signal],
        ]),
      });
      validateVersion(version, await endpoint.handler.getAgentCard(), "JSONRPC");
      const answer = legacy
        ? await endpoint.legacy.handle(blockingByDefault(rpc), context)
        : await endpoint.v1.handle(rpc, context);
      if (!isAsyncIterable(answer)) {
        sendJson(response, 200, legacy ? withLegacyData(answer, context) : answer);
        return;
      }
      const events = answer[Symbol.asyncIterator]();
      // A refusal before the first event (an unknown skill) is a plain JSON-RPC error.
      let first: IteratorResult<unknown>;
      try {
        first = await events.next();
      } catch (error) {
        sendJson(response, 200, { jsonrpc: "2.0", id, error: mapError(error) });
        return;
      }
      response.writeHead(200, SSE_HEADERS);
      try {
        if (!first.done) response.write(formatSSEEvent(first.value));
        for (let next = await events.next(); !next.done; next = await events.next()) {
          response.write(formatSSEEvent(next.value));
        }
      } catch (error) {
        options.onError?.(error);
        if (!response.writableEnded) {
          response.write(formatSSEErrorEvent({ jsonrpc: "2.0", id, error: mapError(error) }));
        }
      } finally {
        response.end();
      }
    } catch (error) {
      options.onError?.(error);
      if (!response.headersSent)
        sendJson(response, 200, { jsonrpc: "2.0", id, error: mapError(error) });
      else response.end();
    } finally {
      live.delete(abort);
    }
  };

  const listener = (request: IncomingMessage, response: ServerResponse) => {
    serve(request, response).catch((error: unknown) => {
      options.onError?.(error);
      refuse(response, error);
    });
  };
  const server: Server =
    tls === undefined
      ? createHttpServer(listener)
      : createHttpsServer(
          {
            cert: await readPem(tls.cert, "cert"),
            key: await readPem(tls.key, "key"),
            ca: await readPem(tls.ca, "ca"),
            requestCert: true,
            // With tokens too, a caller without a certificate may still come
            // in with one; the guard decides, and says why it refused.
            rejectUnauthorized: Object.keys(settings.tokens).length === 0,
          },
          listener,
        );
  // A caller gets this long to send its headers and its request: a slow
  // trickle does not hold a connection open (answers may stream for longer).
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  let host: string;
  try {
    host = checkListenAddress(
      "A2A gateway",
      options.port ?? settings.port,
      options.host ?? settings.host,
    );
    await listenOn(server, options.port ?? settings.port, host, "A2A");
  } catch (error) {
    door.close();
    throw error;
  }
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  base = `${scheme}://${shownHost}:${bound.port}`;
  return {
    url: base,
    cardUrl: `${base}${GatewayPaths.card}`,
    frontDoor: door,
    async close() {
      door.close();
      for (const abort of live) abort.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The protocol version a request asks for: its `A2A-Version` header, 0.3 when absent (as in the SDK). */
function requestedVersion(request: IncomingMessage): string {
  const header = request.headers["a2a-version"];
  return (Array.isArray(header) ? header[0] : header) || LEGACY_VERSION;
}

/**
 * A v0.3 `message/send` whose configuration leaves `blocking` out, made
 * blocking: v0.3 servers wait unless told `blocking: false`, but the SDK's
 * v0.3 translation reads an absent `blocking` as "return immediately".
 */
function blockingByDefault(rpc: Record<string, unknown>): Record<string, unknown> {
  if (rpc["method"] !== "message/send") return rpc;
  const params = rpc["params"] as { configuration?: unknown } | null | undefined;
  const configuration = params?.configuration;
  if (typeof configuration !== "object" || configuration === null) return rpc;
  if ((configuration as { blocking?: unknown }).blocking !== undefined) return rpc;
  return { ...rpc, params: { ...params, configuration: { ...configuration, blocking: true } } };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"
  );
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
