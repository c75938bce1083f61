/**
 * Serves a node's metrics to Prometheus: `GET /metrics` in the text
 * exposition format (version 0.0.4): the counters and histograms the node
 * counted from its events, and, read from the store at each scrape, the
 * balance of every agent account (`conclave_agent_balance_credits{agent}`)
 * and the credits held in escrow. Binds 127.0.0.1 unless told otherwise,
 * and there answers only requests addressed to the loopback (DNS rebinding).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Gauge } from "prom-client";
import { checkListenAddress, isLoopback, listenOn, namesLoopback } from "../core/listen.js";
import { toError } from "../errors/index.js";
import type { Store } from "../store/port.js";
import type { QueueInfo } from "../transport/port.js";
import type { SwarmMetrics } from "./metrics.js";

export interface MetricsServerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Default `127.0.0.1`: only this machine may scrape. */
  readonly host?: string;
}

export interface MetricsServer {
  /** e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  close(): Promise<void>;
}

/** What the server reads: the node's counters and its store. */
export interface MetricsSource {
  readonly metrics: SwarmMetrics;
  readonly store: Pick<Store, "balances">;
  /** The queues' depths, read at each scrape (a swarm's `queues()`). */
  queues?(): Promise<readonly QueueInfo[]>;
  /**
   * The node's bus (a swarm's `transport`): when it closes (`swarm.close()`
   * or `drain()`, or a connection lost for good) the endpoint closes too,
   * rather than answer every scrape with a 500 about a closed store and keep
   * the process from exiting.
   */
  readonly transport?: { closed(): Promise<unknown> };
}

/** Starts the metrics endpoint of one node (a swarm). */
export async function serveMetrics(
  source: MetricsSource,
  options: MetricsServerOptions,
): Promise<MetricsServer> {
  const host = checkListenAddress("metrics endpoint", options.port, options.host ?? "127.0.0.1");
  // A page of any site can read a loopback endpoint by DNS rebinding (its
  // name re-resolved to 127.0.0.1): its requests still name its own host.
  const loopbackOnly = isLoopback(host);
  const server: Server = createServer((request, response) => {
    const named = request.headers.host;
    if (loopbackOnly && !namesLoopback(named)) {
      response
        .writeHead(403, { "content-type": "text/plain" })
        .end(
          `refused: this request names the host ${JSON.stringify(named?.slice(0, 100))}, but the metrics endpoint listens on ${host} for this machine only; scrape it by a loopback address (127.0.0.1, localhost), or bind another address with --metrics-host\n`,
        );
      return;
    }
    if (request.url?.split("?")[0] !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: GET /metrics\n");
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response
        .writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" })
        .end(`method ${request.method} not allowed: GET /metrics\n`);
      return;
    }
    renderMetrics(source).then(
      (text) => {
        response.writeHead(200, { "content-type": source.metrics.registry.contentType });
        // HEAD: the headers GET would send, no body (node drops it).
        response.end(text);
      },
      (error: unknown) => {
        response.writeHead(500, { "content-type": "text/plain" });
        response.end(`reading the store failed: ${toError(error).message}\n`);
      },
    );
  });
  await listenOn(server, options.port, host, "metrics");
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
    return closing;
  };
  // The swarm's end is the endpoint's: its counters stop and its store is closed.
  source.transport?.closed().then(close, close);
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/metrics`,
    close,
  };
}

/** The gauges read at each scrape, created in the node's registry on first use. */
function scrapeGauges(metrics: SwarmMetrics) {
  const gauge = (name: string, help: string, labelNames: string[] = []): Gauge => {
    const existing = metrics.registry.getSingleMetric(name);
    if (existing instanceof Gauge) return existing;
    return new Gauge({ name, help, labelNames, registers: [metrics.registry] });
  };
  return {
    balance: gauge("conclave_agent_balance_credits", "An agent's credit balance.", ["agent"]),
    escrow: gauge("conclave_escrow_credits", "Credits held in escrow for tasks in flight."),
    depth: gauge("conclave_queue_depth", "Tasks waiting in a queue.", ["queue"]),
    inFlight: gauge(
      "conclave_queue_in_flight",
      "Tasks handed to a consumer and not yet acknowledged.",
      ["queue"],
    ),
  };
}

/**
 * The node's metrics in the Prometheus text format: its counters and
 * histograms, the process's standard metrics, and the gauges read at each
 * scrape (balances, escrow, queue depths).
 */
export async function renderMetrics(source: MetricsSource): Promise<string> {
  const [balances, queues] = await Promise.all([
    source.store.balances(),
    source.queues?.() ?? Promise.resolve([]),
  ]);
  source.metrics.includeProcessMetrics();
  const gauges = scrapeGauges(source.metrics);
  // Reset first: an account or a queue that is gone leaves no stale series.
  for (const g of Object.values(gauges)) g.reset();
  let escrow = 0;
  for (const { account, balance } of balances) {
    if (account.startsWith("agent:")) {
      gauges.balance.set({ agent: account.slice("agent:".length) }, balance);
    } else if (account.startsWith("escrow:")) {
      escrow += balance;
    }
  }
  gauges.escrow.set(escrow);
  for (const q of queues) {
    gauges.depth.set({ queue: q.name }, q.pending);
    gauges.inFlight.set({ queue: q.name }, q.inFlight);
  }
  return source.metrics.render();
}
