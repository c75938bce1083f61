/**
 * `market.contractnet.tasks`: tasks allocated end to end by auction on the
 * in-process transport, with 3 bidders (issue 11's shape; 20 in the notes):
 * for each task a signed call for proposals, a signed bid from each bidder
 * verified through the bid gate, a Vickrey clearing, the clearing price
 * held in escrow, the auction recorded, the task sent to the winner's
 * queue, run, committed, and the escrow released. 64 auctions are open at
 * once, each taking bids for at most 50 ms: a round closes as soon as every
 * live bidder has answered.
 *
 * Baseline in the same run: the same tasks allocated by the plain durable
 * queue (first free agent of the role takes it), through the same runtime,
 * so the ratio is the price of allocation by auction. Reported beside
 * `bus.memory.durable` in docs/BENCHMARKS.md.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateAgentKeyPair } from "../src/identity/keys.js";
import { createSwarm, type Swarm } from "../src/runtime/swarm.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { createMemoryTransport } from "../src/transport/memory/memory-transport.js";
import type { Bench } from "./harness.js";
import { timed } from "./harness.js";

/** Bidders in the measured shape, and in the crowded one reported in the notes. */
const BIDDERS = 3;
const CROWD = 20;
const TASKS = 1000;
/** Tasks of the untimed warm-up runs. */
const WARMUP_TASKS = 500;
const OPEN_AUCTIONS = 64;
const ROUND_MS = 50;

function benchSwarm(dir: string): Swarm {
  return createSwarm({
    name: "bench",
    transport: createMemoryTransport({ journalPath: join(dir, "journal.db") }),
    store: openSqliteStore({ path: join(dir, "store.db") }),
    keys: () => generateAgentKeyPair(),
    roles: { lead: {}, worker: { tasks: ["job"] } },
    defaults: { heartbeatMs: 100 },
    // Every bidder answers every call: far more bids per second than the default flood guard allows.
    bidRate: { capacity: 100_000, refillPerSecond: 100_000 },
  });
}

async function allLive(swarm: Swarm, ids: readonly string[]): Promise<void> {
  while (!ids.every((id) => swarm.registry.get(id)?.liveness === "alive")) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Tasks/s allocated by auction, and how many ended unsold (must be 0). */
async function byAuction(
  bidders: number,
  tasks = TASKS,
): Promise<{ rate: number; unsold: number }> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-bench-"));
  const swarm = benchSwarm(dir);
  try {
    let handled = 0;
    let finished: () => void = () => {};
    const all = new Promise<void>((resolve) => {
      finished = resolve;
    });
    swarm.agent({ id: "lead", role: "lead", budget: { initial: 1_000_000_000, minBalance: 0 } });
    const ids: string[] = [];
    for (let b = 0; b < bidders; b++) {
      const id = `w${b}`;
      ids.push(id);
      swarm
        .agent({ id, role: "worker", concurrency: 64 })
        .bid(() => ({ price: 50 + ((b * 7) % 40) }))
        .handle("job", () => {
          if (++handled === tasks) finished();
        });
    }
    await swarm.start();
    await allLive(swarm, ids);
    let unsold = 0;
    const ms = await timed(async () => {
      let next = 0;
      const lane = async () => {
        while (next < tasks) {
          const i = next++;
          const won = await swarm.auction(
            "job",
            { i },
            { as: "lead", rule: "vickrey", reserve: 1000, roundMs: ROUND_MS },
          );
          if (won.status !== "awarded") {
            unsold++;
            if (++handled === tasks) finished();
          }
        }
      };
      await Promise.all(Array.from({ length: OPEN_AUCTIONS }, lane));
      await all;
    });
    return { rate: Math.round((tasks / ms) * 1000), unsold };
  } finally {
    await swarm.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Tasks/s through the plain durable role queue, same swarm shape. */
async function byQueue(tasks = TASKS): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-bench-"));
  const swarm = benchSwarm(dir);
  try {
    let handled = 0;
    let finished: () => void = () => {};
    const all = new Promise<void>((resolve) => {
      finished = resolve;
    });
    swarm.agent({ id: "lead", role: "lead" });
    for (let b = 0; b < BIDDERS; b++) {
      swarm.agent({ id: `w${b}`, role: "worker", concurrency: 64 }).handle("job", () => {
        if (++handled === tasks) finished();
      });
    }
    await swarm.start();
    const ms = await timed(async () => {
      let next = 0;
      const lane = async () => {
        while (next < tasks) {
          const i = next++;
          await swarm.submit("worker", "job", { i }, { as: "lead" });
        }
      };
      await Promise.all(Array.from({ length: OPEN_AUCTIONS }, lane));
      await all;
    });
    return Math.round((tasks / ms) * 1000);
  } finally {
    await swarm.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const contractNetTasks: Bench = async () => {
  // Untimed, in swarms of their own: the JIT compiles both paths first, as
  // in a swarm that has been running (the first 1,000 auctions of a fresh
  // process measured about 20 % slower).
  await byQueue(WARMUP_TASKS);
  await byAuction(BIDDERS, WARMUP_TASKS);
  const queue = await byQueue();
  const { rate, unsold } = await byAuction(BIDDERS);
  const crowd = await byAuction(CROWD);
  return {
    name: "market.contractnet.tasks",
    value: rate,
    unit: "tasks/s",
    baseline: "the same tasks through the durable role queue (no auction)",
    baselineValue: queue,
    notes: `${TASKS} tasks (after an untimed run of ${WARMUP_TASKS} in another swarm), ${BIDDERS} bidders, ${OPEN_AUCTIONS} auctions open at once, ${ROUND_MS} ms bidding round each, closed as soon as every bidder answered; Vickrey with escrow; ${unsold} unsold. With ${CROWD} bidders: ${crowd.rate} tasks/s (${crowd.unsold} unsold)`,
  };
};
