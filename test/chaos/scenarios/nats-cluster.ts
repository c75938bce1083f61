/**
 * The NATS cluster scenarios: the review swarm on a private 3-node JetStream
 * cluster whose queue streams keep 3 replicas, every process given all three
 * server URLs (it fails over), and faults on the servers themselves:
 *
 * - `nats-r3-partition`: the leader of the developers' task stream cut off
 *   from the other two servers (a black hole on every route it has: routes
 *   run through a chaos proxy per server and peer), healed, 2-3 times;
 * - `nats-r3-pause`: a server SIGSTOPped past the Raft heartbeat and
 *   election timeouts (and conclave's own heartbeat), then SIGCONT; twice;
 * - `nats-r3-kill2`: two of the three servers SIGKILLed one after the other
 *   (the streams lose their quorum), then restarted one after the other;
 * - `nats-r3-baseline`: no fault, for the time without one.
 *
 * Which server, when and for how long is drawn from the seed; "leader" is
 * the stream's leader when the fault starts (asked through $JS.API).
 */

import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsServerAvailable, startNatsCluster } from "../../../src/testkit/brokers/nats-server.js";
import { between, type CustomTarget, type PlannedFault, sequence } from "../harness.js";
import { type ChaosProxy, startChaosProxy } from "../proxy.js";
import type { Scenario } from "./index.js";
import { type Broker, runReviewSwarm, scenarioResult, workload } from "./review-swarm.js";

const NODES = ["n1", "n2", "n3"] as const;

/** The stream the developers take their tasks from (the busiest). */
const TASK_STREAM = /-task-developer$/;

/** Two distinct servers in an order drawn from `rng`. */
function twoNodes(rng: { next(): number }): string {
  const first = between(rng, 0, 2);
  const second = (first + between(rng, 1, 2)) % 3;
  return `${NODES[first]},${NODES[second]}`;
}

/**
 * A private 3-node cluster whose routes run through chaos proxies, with a
 * fault target per server (`n1`..`n3`, pause and kill; `a,b` kills two one
 * after the other) and `leader` (a black hole on the task stream leader's routes).
 */
async function natsClusterBroker(log: (line: string) => void): Promise<Broker> {
  const routes = new Map<string, ChaosProxy>();
  const cluster = await startNatsCluster({
    routeVia: async (from, to, clusterPort) => {
      const proxy = await startChaosProxy(clusterPort);
      routes.set(`${NODES[from]}-${NODES[to]}`, proxy);
      return proxy.port;
    },
  }).catch(async (error) => {
    await Promise.all([...routes.values()].map((p) => p.close()));
    throw error;
  });
  const nc = await connect({
    servers: [...cluster.urls],
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  const jsm = await jetstreamManager(nc, { timeout: 2_000 });

  /** The task stream's leader, or undefined when none answers within `waitMs` (no quorum). */
  const leader = async (waitMs = 15_000): Promise<string | undefined> => {
    const end = Date.now() + waitMs;
    while (Date.now() < end) {
      try {
        for await (const name of jsm.streams.names()) {
          if (!TASK_STREAM.test(name)) continue;
          const found = (await jsm.streams.info(name)).cluster?.leader;
          if (found) return found;
        }
      } catch {
        // An election under way: ask again.
      }
      await sleep(250);
    }
    return undefined;
  };
  /** For the history only: the leader when a fault starts, asked for at most 1 s (so the fault starts on time). */
  const logLeader = async () =>
    log(`    task stream leader before: ${(await leader(1_000)) ?? "no answer within 1 s"}`);
  const logStreams = async () => {
    for await (const info of jsm.streams.list()) {
      const { state, config } = info;
      log(
        `    stream ${config.name}: ${state.messages} messages (seq ${state.first_seq}-${state.last_seq}), leader ${info.cluster?.leader ?? "none"}${replicasOf(info.cluster)}`,
      );
      for await (const c of jsm.consumers.list(config.name)) {
        log(
          `      consumer ${c.name}: pending ${c.num_pending}, ack pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}, delivered ${c.delivered.stream_seq}, ack floor ${c.ack_floor.stream_seq}, leader ${c.cluster?.leader ?? "none"}${replicasOf(c.cluster)}`,
        );
      }
    }
  };
  const isolated = new Map<PlannedFault, ChaosProxy[]>();
  const node = (name: string) => {
    const i = cluster.indexOf(name);
    if (i < 0) throw new Error(`no server ${name} in the cluster`);
    return i;
  };

  const targets = new Map<string, CustomTarget>();
  targets.set("leader", {
    async apply(fault) {
      const name = await leader();
      if (!name) throw new Error("the task stream has no leader to isolate");
      const cut = [...routes].filter(([pair]) => pair.split("-").includes(name));
      log(
        `    ${name} leads the task stream: black hole on routes ${cut.map(([p]) => p).join(", ")}`,
      );
      for (const [, proxy] of cut) proxy.blackhole();
      isolated.set(
        fault,
        cut.map(([, proxy]) => proxy),
      );
    },
    async heal(fault) {
      for (const proxy of isolated.get(fault) ?? []) proxy.heal();
      isolated.delete(fault);
    },
  });
  for (const name of NODES) {
    targets.set(name, {
      async apply(fault) {
        await logLeader();
        if (fault.kind !== "pause") throw new Error(`no ${fault.kind} for a server`);
        cluster.signal(node(name), "SIGSTOP");
      },
      async heal() {
        cluster.signal(node(name), "SIGCONT");
      },
    });
  }
  for (const [a, b] of [
    ["n1", "n2"],
    ["n1", "n3"],
    ["n2", "n1"],
    ["n2", "n3"],
    ["n3", "n1"],
    ["n3", "n2"],
  ] as const) {
    targets.set(`${a},${b}`, {
      async apply(fault) {
        await logLeader();
        await cluster.kill(node(a));
        await sleep(fault.stepMs ?? 0);
        await cluster.kill(node(b));
        log(`    ${a} and ${b} killed: one server of three left, no quorum`);
      },
      async heal(fault) {
        await cluster.restart(node(a));
        log(`    ${a} restarted`);
        await sleep(fault.stepMs ?? 0);
        await cluster.restart(node(b));
        log(`    ${b} restarted; task stream leader: ${(await leader()) ?? "none after 15 s"}`);
      },
    });
  }

  const [first, ...rest] = cluster.urls;
  return {
    kind: "nats",
    port: cluster.nodes[0]?.port ?? 0,
    // Every process goes to the servers directly (its proxy stays unused):
    // the faults are on the servers and their routes.
    urlFor: () => first ?? "",
    section: { servers: rest, replicas: 3 },
    targets,
    async stop() {
      // What the streams and their consumers hold at the end: a message
      // lost by the server and one the consumer skipped look alike to the
      // checker ("lost"), not here (a skipped one is still in the stream).
      await logStreams().catch((error) => log(`    streams at the end: ${String(error)}`));
      await nc.close().catch(() => undefined);
      for (const proxy of routes.values()) proxy.heal();
      await cluster.stop();
      await Promise.all([...routes.values()].map((p) => p.close()));
    },
  };
}

function clusterScenario(options: {
  name: string;
  what: string;
  tasks: number;
  budgetMs: number;
  plan: (seed: number) => PlannedFault[];
}): Scenario {
  return {
    name: options.name,
    what: options.what,
    missing: () => (natsServerAvailable() ? undefined : "no nats-server binary on PATH"),
    plan: options.plan,
    async run(seed, log, overrides) {
      const started = Date.now();
      const broker = await natsClusterBroker(log);
      try {
        const result = await runReviewSwarm({
          name: options.name,
          seed,
          broker,
          ...workload(options, seed, overrides),
          // As the single-server scenarios: longer than the dead-letter queue's 30 s ack wait.
          stuckAfterMs: 40_000,
          crashesExpected: false,
          log,
        });
        return scenarioResult(options.name, seed, started, result);
      } finally {
        await broker.stop();
      }
    },
  };
}

export const clusterScenarios: readonly Scenario[] = [
  clusterScenario({
    name: "nats-r3-baseline",
    what: "3-node cluster, R3 streams, no fault: the time and dead letters of the cluster set-up without faults",
    tasks: 200,
    budgetMs: 120_000,
    plan: () => [],
  }),
  clusterScenario({
    name: "nats-r3-partition",
    what: "3-node cluster, R3 streams: the task stream's leader cut off from the other two servers (black hole on its routes) for 6-12 s, healed; 2-3 times",
    tasks: 200,
    budgetMs: 120_000,
    plan: (seed) =>
      sequence(
        seed,
        2 + (seed % 2),
        (rng) => ({ kind: "blackhole", target: "leader", forMs: between(rng, 6_000, 12_000) }),
        [1_000, 3_000],
      ),
  }),
  clusterScenario({
    name: "nats-r3-pause",
    what: "3-node cluster, R3 streams: a server SIGSTOPped for 5-10 s (past the Raft heartbeat and election timeout), then SIGCONT; twice",
    tasks: 200,
    budgetMs: 120_000,
    plan: (seed) =>
      sequence(
        seed,
        2,
        (rng) => ({
          kind: "pause",
          target: NODES[between(rng, 0, 2)] as string,
          forMs: between(rng, 5_000, 10_000),
        }),
        [1_000, 3_000],
      ),
  }),
  clusterScenario({
    name: "nats-r3-kill2",
    what: "3-node cluster, R3 streams: two servers SIGKILLed 1-3 s apart (quorum lost), both down for 4-10 s, restarted 1-3 s apart",
    tasks: 200,
    budgetMs: 150_000,
    plan: (seed) =>
      sequence(
        seed,
        1,
        (rng) => ({
          kind: "kill",
          target: twoNodes(rng),
          stepMs: between(rng, 1_000, 3_000),
          forMs: between(rng, 4_000, 10_000),
        }),
        [1_000, 3_000],
      ),
  }),
];

/** The replicas of a stream or consumer as the leader sees them: which are behind, by how many operations. */
function replicasOf(
  cluster:
    | { readonly replicas?: readonly { name: string; current: boolean; lag?: number }[] }
    | undefined,
): string {
  const replicas = cluster?.replicas ?? [];
  if (replicas.length === 0) return "";
  return `; replicas ${replicas.map((r) => `${r.name} ${r.current ? "current" : "behind"}${r.lag ? ` (lag ${r.lag})` : ""}`).join(", ")}`;
}
