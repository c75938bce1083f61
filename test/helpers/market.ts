/** What the market tests share: fast swarm defaults, and waiting for bidders to be live. */
import type { Swarm } from "../../src/runtime/swarm.js";
import { until } from "./until.js";

/** Heartbeats and retries fast enough for a test's auctions. */
export const marketDefaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 2,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

/** Waits until every named agent is in the registry and alive (bids come only from live agents). */
export async function live(swarm: Swarm, ids: readonly string[]): Promise<void> {
  await until(
    () => ids.every((id) => swarm.registry.get(id)?.liveness === "alive"),
    5000,
    `agents ${ids.join(", ")} alive`,
  );
}
