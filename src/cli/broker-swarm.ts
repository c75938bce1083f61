/**
 * The swarm file of a command that reaches a swarm from outside the
 * processes running it (events, top, dashboard, approve, dead-letters
 * redrive): loaded with the command's `--transport` / `--store` overrides,
 * and refused on the embedded transport, which only the process running the
 * swarm can reach.
 */
import { loadSwarmConfig } from "../config/load.js";
import { applyOverrides } from "../config/overrides.js";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { ConfigError } from "../errors/index.js";

export interface BrokerOverrides {
  readonly transport?: string;
  readonly store?: string;
}

/**
 * @param instead What to do on the embedded transport, e.g. "vote from its
 *   dashboard (conclave up --dashboard)".
 * @throws ConfigError on the embedded transport, saying what to do instead.
 */
export async function loadBrokerSwarm(
  file: string,
  overrides: BrokerOverrides,
  instead: string,
): Promise<SwarmFile> {
  const config = applyOverrides(await loadSwarmConfig(file), {
    ...(overrides.transport ? { transport: overrides.transport } : {}),
    ...(overrides.store ? { store: overrides.store } : {}),
  });
  if (config.transport === "memory") {
    throw new ConfigError(
      `this swarm uses the embedded in-process transport, which only the process running it can reach: ${instead}, or pass --transport nats://… or amqp://…`,
    );
  }
  return config;
}
