/**
 * `conclave dashboard --swarm FILE`: the dashboard of a swarm that runs
 * elsewhere, from a node that hosts no agent — it reads the shared store and
 * hears the swarm on its broker. And `conclave up --dashboard [PORT]`: the
 * dashboard of the swarm this process runs (the only way to watch the
 * embedded transport, which lives in one process).
 */
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { type DashboardServer, serveDashboard } from "../dashboard/server.js";
import { openSwarm } from "../runtime/from-config.js";
import type { Swarm } from "../runtime/swarm.js";
import { loadBrokerSwarm } from "./broker-swarm.js";
import { listenFailure } from "./listen-failure.js";

export interface DashboardCliOptions {
  readonly port: number;
  readonly host?: string;
  readonly transport?: string;
  readonly store?: string;
}

/** The environment variable that fixes the token (else a random one is printed). */
export const DASHBOARD_TOKEN_VARIABLE = "CONCLAVE_DASHBOARD_TOKEN";

/** Serves the dashboard of a running `swarm` and prints its link (with the token) on stderr. */
export async function openDashboard(
  swarm: Swarm,
  config: SwarmFile,
  options: { readonly port: number; readonly host?: string },
  /** The options that set the address, named in a refusal: `up`'s by default. */
  flags: { readonly port: string; readonly host: string } = {
    port: "--dashboard",
    host: "--dashboard-host",
  },
): Promise<DashboardServer> {
  const token = process.env[DASHBOARD_TOKEN_VARIABLE];
  const server = await serveDashboard(swarm, config, {
    port: options.port,
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(token ? { token } : {}),
  }).catch((error: unknown) => {
    throw listenFailure(error, "the dashboard", options.host ?? "127.0.0.1", options.port, {
      ...flags,
      wrap: true,
    });
  });
  process.stderr.write(`dashboard: ${server.link}\n`);
  return server;
}

/** Watches a swarm run by other processes until SIGINT/SIGTERM. Exit code 0. */
export async function watchSwarm(file: string, options: DashboardCliOptions): Promise<number> {
  const config = await loadBrokerSwarm(file, options, "run it with `conclave up --dashboard`");
  // An observer: no agent of its own, so it takes no work; it hears heartbeats and reads the store.
  // An observer reads the store the swarm made; it never creates one.
  const swarm = await openSwarm(config, { agents: [], createStore: false });
  await swarm.start();
  const flags = { port: "--port", host: "--host" };
  const server = await openDashboard(swarm, config, options, flags).catch(
    async (error: unknown) => {
      await swarm.close();
      throw error;
    },
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await server.close();
  await swarm.close();
  return 0;
}
