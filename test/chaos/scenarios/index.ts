/**
 * The chaos scenarios. Each draws its whole fault plan from its seed before
 * anything runs (`plan`), so `--seed N` replays the same faults on the same
 * targets at the same offsets; only the swarm's own timing varies.
 */
import { natsServerAvailable, startNatsServer } from "../../../src/testkit/brokers/nats-server.js";
import {
  rabbitmqServerAvailable,
  startRabbitmqNode,
} from "../../../src/testkit/brokers/rabbitmq-server.js";
import type { Verdict } from "../checker.js";
import {
  between,
  type FaultRecord,
  type PlannedFault,
  pick,
  rngFor,
  sequence,
} from "../harness.js";
import { partitionScenarios } from "./consensus-partition.js";
import { clusterScenarios } from "./nats-cluster.js";
import { overloadScenario } from "./overload.js";
import { restartScenarios } from "./restarts.js";
import {
  type Broker,
  type Crash,
  runReviewSwarm,
  scenarioResult,
  workload,
} from "./review-swarm.js";

export interface ScenarioResult {
  readonly scenario: string;
  readonly seed: number;
  readonly faults: readonly FaultRecord[];
  /** Processes that exited on their own during the run and were restarted. */
  readonly crashes: readonly Crash[];
  readonly verdict: Verdict;
  readonly producerExit: number | null;
  readonly durationMs: number;
  readonly tail?: string;
}

export interface Scenario {
  readonly name: string;
  readonly what: string;
  /** Why it cannot run here, or undefined. */
  readonly missing: () => string | undefined;
  /** The fault plan drawn from `seed`. */
  readonly plan: (seed: number) => PlannedFault[];
  readonly run: (
    seed: number,
    log: (line: string) => void,
    /** Fewer tasks for the short runs of `npm test`. */
    overrides?: { readonly tasks?: number },
  ) => Promise<ScenarioResult>;
}

const PROCESSES = ["producer", "workers-a", "workers-b"] as const;
const WORKERS = ["workers-a", "workers-b"] as const;

async function natsBroker(): Promise<Broker> {
  const server = await startNatsServer();
  return {
    kind: "nats",
    port: server.port,
    urlFor: (port) => `nats://127.0.0.1:${port}`,
    stop: () => server.stop(),
  };
}

async function amqpBroker(): Promise<Broker> {
  const node = await startRabbitmqNode();
  return {
    kind: "amqp",
    port: node.amqpPort,
    urlFor: (port) => `amqp://guest:guest@127.0.0.1:${port}`,
    stop: () => node.stop(),
  };
}

/** The local Postgres (trust, database `test`) the `pg-*` scenarios use, each in a schema of its own. */
const POSTGRES = { url: "postgres://postgres@127.0.0.1:5432/test", port: 5432 } as const;

function reviewScenario(options: {
  name: string;
  what: string;
  broker: "nats" | "amqp";
  tasks: number;
  budgetMs: number;
  plan: (seed: number) => PlannedFault[];
  /** Share a Postgres store and cut the processes' links to it instead of the broker's. */
  postgres?: boolean;
  /** One process's clock offset for the whole run, drawn from the seed. */
  clockSkew?: (seed: number) => NonNullable<Parameters<typeof runReviewSwarm>[0]["clockSkew"]>;
}): Scenario {
  return {
    name: options.name,
    what: options.what,
    missing: () =>
      options.broker === "nats"
        ? natsServerAvailable()
          ? undefined
          : "no nats-server binary on PATH"
        : rabbitmqServerAvailable()
          ? undefined
          : "no rabbitmq-server (and erl) installed",
    plan: options.plan,
    async run(seed, log, overrides) {
      const started = Date.now();
      const broker = await (options.broker === "nats" ? natsBroker() : amqpBroker());
      try {
        const result = await runReviewSwarm({
          name: options.name,
          seed,
          broker,
          ...workload(options, seed, overrides),
          // Longer than the longest lease in the swarm: the dead-letter
          // queue's ack wait is 30 s whatever defaults.ackWaitMs says, so a
          // dead letter held by a black-holed process settles 30 s later.
          stuckAfterMs: 40_000,
          crashesExpected: options.broker === "amqp",
          ...(options.postgres ? { postgres: POSTGRES } : {}),
          ...(options.clockSkew ? { clockSkew: options.clockSkew(seed) } : {}),
          log,
        });
        return scenarioResult(options.name, seed, started, result);
      } finally {
        await broker.stop();
      }
    },
  };
}

const cutPlan = (seed: number) =>
  sequence(
    seed,
    3,
    (rng) => ({ kind: "cut", target: pick(rng, PROCESSES), forMs: between(rng, 1_500, 4_000) }),
    [1_000, 3_000],
  );

export const scenarios: readonly Scenario[] = [
  reviewScenario({
    name: "pg-cut",
    what: "a Postgres store; 3 cuts (RST, new connections refused) of 1.5-4 s of a process's link to Postgres, mid ledger operations and seals",
    broker: "nats",
    tasks: 150,
    budgetMs: 60_000,
    plan: cutPlan,
    postgres: true,
  }),
  reviewScenario({
    name: "nats-baseline",
    what: "no fault: the same swarm, processes and proxies, for the time and dead letters without faults",
    broker: "nats",
    tasks: 150,
    budgetMs: 60_000,
    plan: () => [],
  }),
  reviewScenario({
    name: "nats-cut",
    what: "3 connection cuts (RST, new connections refused) of 1.5-4 s, each on a process drawn from the seed",
    broker: "nats",
    tasks: 150,
    budgetMs: 45_000,
    plan: cutPlan,
  }),
  reviewScenario({
    name: "nats-cut-producer",
    what: "the producer's link cut for 4-6 s, longer than leftAfterMs (10 heartbeats, 3 s) with the reconnect wait: its own agents must stay trusted",
    broker: "nats",
    tasks: 150,
    budgetMs: 45_000,
    plan: (seed) =>
      sequence(
        seed,
        1,
        (rng) => ({ kind: "cut", target: "producer", forMs: between(rng, 4_000, 6_000) }),
        [1_000, 2_000],
      ),
  }),
  reviewScenario({
    name: "nats-pause",
    what: "a worker process SIGSTOPped for 4-6 s (past the heartbeat and the 3 s ack deadline), then SIGCONT; twice",
    broker: "nats",
    tasks: 150,
    budgetMs: 50_000,
    plan: (seed) =>
      sequence(
        seed,
        2,
        (rng) => ({ kind: "pause", target: pick(rng, WORKERS), forMs: between(rng, 4_000, 6_000) }),
        [500, 2_000],
      ),
  }),
  reviewScenario({
    name: "nats-kill",
    what: "a worker process SIGKILLed mid-run, restarted 1-3 s later; twice",
    broker: "nats",
    tasks: 150,
    budgetMs: 60_000,
    plan: (seed) =>
      sequence(
        seed,
        2,
        (rng) => ({ kind: "kill", target: pick(rng, WORKERS), forMs: between(rng, 1_000, 3_000) }),
        [500, 3_000],
      ),
  }),
  reviewScenario({
    name: "nats-partition",
    what: "black holes (nothing moves, connections stay open) of 2-5 s and 150-400 ms delays of 3 s, on processes drawn from the seed",
    broker: "nats",
    tasks: 150,
    budgetMs: 80_000,
    plan: (seed) =>
      sequence(
        seed,
        3,
        (rng) =>
          rng.next() < 0.5
            ? { kind: "blackhole", target: pick(rng, PROCESSES), forMs: between(rng, 2_000, 5_000) }
            : {
                kind: "delay",
                target: pick(rng, PROCESSES),
                forMs: 3_000,
                delayMs: between(rng, 150, 400),
              },
        [1_000, 3_000],
      ),
  }),
  reviewScenario({
    name: "nats-clock-skew",
    what: "no link fault: workers-b's clock runs 5 minutes ahead or behind (drawn from the seed) for the whole run; the swarm must keep working on its other nodes",
    broker: "nats",
    tasks: 150,
    budgetMs: 60_000,
    plan: () => [],
    // Not workers-a: it hosts the only sentinel, and a node whose clock is
    // off pauses its agents (Finding 12), so the swarm cannot keep working
    // without it, by design (seed 200 drew it: 150 tasks stuck at the scan).
    clockSkew: (seed) => {
      const rng = rngFor(seed);
      return { target: "workers-b", offsetMs: (rng.next() < 0.5 ? -1 : 1) * 5 * 60_000 };
    },
  }),
  reviewScenario({
    name: "amqp-cut",
    what: "nats-cut against a private RabbitMQ node",
    broker: "amqp",
    tasks: 150,
    budgetMs: 50_000,
    plan: cutPlan,
  }),
  ...partitionScenarios,
  overloadScenario,
  // Servers restarted under the swarm (RabbitMQ node, Postgres server): restarts.ts.
  ...restartScenarios,
  // The 3-node JetStream cluster's scenarios (nats-r3-*): nats-cluster.ts.
  ...clusterScenarios,
];
