/**
 * `conclave gateway a2a`: a swarm file's swarm behind the A2A protocol. The
 * process hosts the gateway's signing agent (`gateway.as`) and serves the
 * agent card and A2A JSON-RPC until SIGINT/SIGTERM. On the embedded
 * transport it hosts every agent of the file (the swarm lives in this
 * process); on a broker only the gateway's agent unless `--agents` says more,
 * the workers running elsewhere (`conclave agent`).
 */
import { loadSwarmConfig } from "../config/load.js";
import { applyOverrides } from "../config/overrides.js";
import { ConfigError, toError } from "../errors/index.js";
import { startA2AGateway } from "../interop/a2a-gateway.js";
import { openSwarm } from "../runtime/from-config.js";
import { listenFailure } from "./listen-failure.js";

export interface GatewayCommandOptions {
  /** Overrides `gateway.host`. */
  readonly host?: string;
  /** Overrides `gateway.port`. */
  readonly port?: number;
  /** Agents hosted here besides `gateway.as`. Default: every agent on the embedded transport, none on a broker. */
  readonly agents?: readonly string[];
  readonly transport?: string;
  readonly store?: string;
  readonly dataDir?: string;
  /** One JSON line on stdout when serving, instead of a sentence. */
  readonly json: boolean;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Serves the swarm of `file` over A2A until a signal; returns the exit code. */
export async function runA2AGateway(file: string, options: GatewayCommandOptions): Promise<number> {
  const config = applyOverrides(await loadSwarmConfig(file), {
    ...(options.transport ? { transport: options.transport } : {}),
    ...(options.store ? { store: options.store } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
  const settings = config.gateway;
  if (settings === undefined) {
    throw new ConfigError(
      `${file} has no gateway: section; add one naming the signing agent, the callers' tokens and the offered tasks, e.g. gateway: { as: lead, tokens: { ide: "\${CONCLAVE_IDE_TOKEN}" }, expose: [{ role: writer, task: write }] }`,
    );
  }
  const agents = new Set(
    options.agents ??
      (config.transport === "memory" ? config.agents.map((a) => a.id) : [settings.as]),
  );
  agents.add(settings.as);
  const host = options.host ?? settings.host;
  if (!LOOPBACK.has(host) && settings.tls === undefined) {
    process.stderr.write(
      `conclave: warning: serving plain HTTP on ${host}: bearer tokens cross the network in clear; set gateway.tls (mutual TLS) or put a TLS proxy in front\n`,
    );
  }
  const swarm = await openSwarm(config, { agents: [...agents] });
  await swarm.start();
  let gateway: Awaited<ReturnType<typeof startA2AGateway>>;
  try {
    gateway = await startA2AGateway(swarm, config, {
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port }),
      onError: (error) => process.stderr.write(`conclave gateway: ${toError(error).message}\n`),
    });
  } catch (error) {
    await swarm.close();
    throw listenFailure(error, "A2A", host, options.port ?? settings.port);
  }
  const offered = gateway.frontDoor.offered().map((o) => o.name);
  process.stdout.write(
    options.json
      ? `${JSON.stringify({ type: "gateway", protocol: "a2a", swarm: config.swarm, url: gateway.url, card: gateway.cardUrl, offered })}\n`
      : `A2A gateway of swarm ${config.swarm} at ${gateway.url}\n  card: ${gateway.cardUrl}\n  offered: ${offered.join(", ")}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await gateway.close();
  // Tasks in flight here finish and ack; the rest wait in the queues for the next run.
  await swarm.drain();
  return 0;
}
