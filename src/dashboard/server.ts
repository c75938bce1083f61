/**
 * The dashboard's HTTP server: the page, the JSON API under `/api/`, the
 * live stream at `/api/stream`, and Prometheus metrics at `/metrics`.
 *
 * Security: binds 127.0.0.1 unless told otherwise, and every request —
 * page, API, stream, metrics — needs the token (`Authorization: Bearer
 * <token>`, or `?token=` for the page link and the event stream, which a
 * browser cannot give headers). Without it: 401 and nothing else. On the
 * loopback it answers only requests addressed to the loopback (403
 * otherwise: DNS rebinding), and its page runs its own script only.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { checkListenAddress, isLoopback, listenOn, namesLoopback } from "../core/listen.js";
import {
  ConclaveError,
  ConfigError,
  RedriveRefusedError,
  toError,
  VoteRefusedError,
} from "../errors/index.js";
import { InvalidRequestError, RequestTooLargeError } from "../errors/interop.js";
import { renderMetrics } from "../runtime/metrics-server.js";
import type { Swarm } from "../runtime/swarm.js";
import { DashboardApi } from "./api.js";
import { LiveFeed } from "./live.js";

export interface DashboardOptions {
  readonly port?: number;
  /** Default 127.0.0.1: the dashboard shows balances and decisions, keep it local unless told. */
  readonly host?: string;
  /** The token pages and scripts must present; default: a random one (see `DashboardServer.token`). */
  readonly token?: string;
}

export interface DashboardServer {
  readonly url: string;
  /** The page's address with the token, to open in a browser. */
  readonly link: string;
  readonly token: string;
  close(): Promise<void>;
}

/**
 * The page, with its style and script inlined: one authenticated response
 * loads everything. `script` is the hash the page's policy allows its one
 * script by: names, payloads and error messages from the swarm's nodes end
 * up in the page's markup, and markup someone slipped into them (an
 * `onerror`, say) must not run, as it would under `'unsafe-inline'`.
 */
function page(): { html: string; script: string } {
  const dir = new URL("../../web/dashboard/", import.meta.url);
  const read = (name: string) => readFileSync(new URL(name, dir), "utf8");
  const app = read("app.js");
  const html = read("index.html")
    .replace("/*STYLE*/", () => read("style.css"))
    .replace("/*APP*/", () => app);
  return { html, script: `'sha256-${createHash("sha256").update(app).digest("base64")}'` };
}

/** A vote or a ballot request is a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/** The request's JSON object body. @throws RequestTooLargeError / InvalidRequestError */
async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new RequestTooLargeError(MAX_BODY_BYTES);
    chunks.push(chunk as Buffer);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Answered below.
  }
  throw new InvalidRequestError("the request body must be a JSON object");
}

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

function send(response: ServerResponse, status: number, body: unknown): void {
  response
    .writeHead(status, { "content-type": "application/json", "cache-control": "no-store" })
    .end(JSON.stringify(body));
}

/**
 * Serves the dashboard of `swarm` (a running node: one hosting agents, or an
 * observer hosting none) until `close()`.
 *
 * @example
 * ```ts
 * const dashboard = await serveDashboard(swarm, config, { port: 8080 });
 * console.log(`open ${dashboard.link}`);
 * ```
 */
export async function serveDashboard(
  swarm: Swarm,
  config: SwarmFile,
  options: DashboardOptions = {},
): Promise<DashboardServer> {
  // An empty token would let `?token=` in; one with spaces cannot go in a Bearer header.
  if (options.token !== undefined && !/^\S+$/.test(options.token)) {
    throw new ConfigError(
      "the dashboard token (CONCLAVE_DASHBOARD_TOKEN for the CLI) must be one or more characters without spaces; leave it unset for a random one",
    );
  }
  const port = options.port ?? 0;
  const host = checkListenAddress("the dashboard", port, options.host ?? "127.0.0.1");
  const loopbackOnly = isLoopback(host);
  const token = options.token ?? randomBytes(18).toString("base64url");
  const expected = digest(token);
  const api = new DashboardApi(swarm, config);
  const live = new LiveFeed({ swarm, overview: () => api.overview() });
  const { html, script } = page();
  // Style attributes (bar widths, indents) need 'unsafe-inline' for styles; script never does.
  const policy = `default-src 'self'; script-src ${script}; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

  /** `url`: the request's target, undefined when it is not a URL (then only the header can carry the token). */
  const authorized = (request: IncomingMessage, url: URL | undefined): boolean => {
    const header = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
    const presented = header ?? url?.searchParams.get("token") ?? null;
    return presented !== null && timingSafeEqual(digest(presented), expected);
  };

  const routes: Record<string, (url: URL) => Promise<unknown>> = {
    "/api/overview": () => api.overview(),
    "/api/agents": () => api.agents(),
    "/api/tasks": () => api.tasks(),
    "/api/dead-letters": () => api.deadLetters(),
    "/api/decisions": () => api.decisions(),
    "/api/queues": () => api.queues(),
    "/api/graph": () => api.graph(),
    "/api/approvals": async () => api.approvals(),
    "/api/auctions": () => api.auctions(),
    "/api/ledger": () => api.ledger(),
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = URL.canParse(request.url ?? "/", "http://dashboard")
      ? new URL(request.url ?? "/", "http://dashboard")
      : undefined;
    // Before the token: a rebinding page could otherwise try tokens from the browser.
    if (loopbackOnly && !namesLoopback(request.headers.host)) {
      response
        .writeHead(403, { "content-type": "text/plain" })
        .end(
          `403: the dashboard listens on ${host} for this machine only; open it at 127.0.0.1 or localhost (or through an SSH tunnel), or bind another address with --host\n`,
        );
      return;
    }
    if (!authorized(request, url)) {
      response
        .writeHead(401, {
          "content-type": "text/plain",
          "www-authenticate": 'Bearer realm="conclave"',
        })
        .end(
          "401: open the link the dashboard printed (it carries ?token=…), or send Authorization: Bearer <token>\n",
        );
      return;
    }
    if (url === undefined) {
      throw new InvalidRequestError(
        `the request's target ${JSON.stringify((request.url ?? "").slice(0, 200))} is not a URL; see docs/DASHBOARD.md for the API`,
      );
    }
    const path = url.pathname;
    if (request.method === "GET" && path === "/") {
      response
        .writeHead(200, {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
          "content-security-policy": policy,
          // The page's address carries the token: never send it on.
          "referrer-policy": "no-referrer",
        })
        .end(html);
      return;
    }
    if (request.method === "GET" && path === "/api/stream") {
      live.attach(response);
      return;
    }
    if (request.method === "GET" && path === "/metrics") {
      response
        .writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" })
        .end(await renderMetrics(swarm));
      return;
    }
    const task = /^\/api\/tasks\/([0-9A-Za-z]{1,64})$/.exec(path)?.[1];
    if (request.method === "GET" && task !== undefined) {
      const report = await api.task(task);
      if (report === undefined) {
        send(response, 404, {
          error: { code: "E_NOT_FOUND", message: `no task ${task} in this swarm's store` },
        });
      } else send(response, 200, report);
      return;
    }
    const approval = /^\/api\/approvals\/([0-9A-Za-z]{1,64})\/(ballot|vote)$/.exec(path);
    if (request.method === "POST" && approval?.[1] !== undefined) {
      const body = await readJson(request);
      if (approval[2] === "ballot") {
        const choice = body["choice"];
        // A typo must not become the other vote: only the two choices are prepared.
        if (choice !== "approve" && choice !== "reject") {
          throw new InvalidRequestError(
            `choice must be "approve" or "reject", got ${JSON.stringify(choice) ?? "none"}`,
          );
        }
        const reason = typeof body["reason"] === "string" ? body["reason"] : undefined;
        send(
          response,
          200,
          swarm.humanBallot(approval[1], String(body["human"] ?? ""), choice, reason),
        );
      } else {
        swarm.castHumanVote(approval[1], body["vote"]);
        send(response, 200, { sent: true });
      }
      return;
    }
    const redrive = /^\/api\/dead-letters\/([0-9A-Za-z._-]{1,200})\/redrive$/.exec(path)?.[1];
    if (request.method === "POST" && redrive !== undefined) {
      const body = await readJson(request);
      send(
        response,
        200,
        await swarm.redrive(redrive, { by: "dashboard", unpaid: body["unpaid"] === true }),
      );
      return;
    }
    const fund = /^\/api\/agents\/([A-Za-z0-9_-]{1,128})\/fund$/.exec(path)?.[1];
    if (request.method === "POST" && fund !== undefined) {
      const body = await readJson(request);
      const balance = await swarm.fund(fund, Number(body["credits"]), { by: "dashboard" });
      send(response, 200, { agent: fund, balance });
      return;
    }
    const verify = /^\/api\/decisions\/(\d+)\/verify$/.exec(path)?.[1];
    if (request.method === "POST" && verify !== undefined) {
      const verdict = await api.verify(Number(verify));
      if (verdict === undefined) {
        send(response, 404, {
          error: {
            code: "E_NOT_FOUND",
            message: `no decision at audit seq ${verify} in this swarm's store; GET /api/decisions lists them`,
          },
        });
      } else send(response, 200, verdict);
      return;
    }
    const route = request.method === "GET" ? routes[path] : undefined;
    if (route === undefined) {
      send(response, 404, {
        error: {
          code: "E_NOT_FOUND",
          message: `no ${request.method} ${path}; see docs/DASHBOARD.md for the API`,
        },
      });
      return;
    }
    send(response, 200, await route(url));
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const e = toError(error);
      if (!response.headersSent) {
        send(response, statusOf(e), {
          error: { code: e instanceof ConclaveError ? e.code : "E_INTERNAL", message: e.message },
        });
      } else response.end();
    });
  });
  await listenOn(server, port, host, "the dashboard");
  live.start();
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  const url = `http://${shown}:${bound}`;
  return {
    url,
    link: `${url}/?token=${encodeURIComponent(token)}`,
    token,
    async close() {
      live.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The HTTP status of a failed request: the caller's mistake (4xx) or ours (500). */
function statusOf(error: Error): number {
  if (error instanceof RequestTooLargeError) return 413;
  if (
    error instanceof ConfigError ||
    error instanceof VoteRefusedError ||
    error instanceof RedriveRefusedError ||
    error instanceof InvalidRequestError
  )
    return 400;
  return 500;
}
