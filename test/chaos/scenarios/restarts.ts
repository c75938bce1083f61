/**
 * Scenarios where a server itself goes away and comes back, rather than a
 * link to it: the RabbitMQ node restarted under the review swarm
 * (`amqp-restart`), and the Postgres server holding the store restarted
 * (`pg-restart`, with `pg_ctl stop -m fast` and once `-m immediate`, a
 * crash). Each plan, every stop's time, length and mode, is drawn from the
 * seed; `amqp-cluster-kill` kills -9 nodes of a 3-node RabbitMQ cluster
 * (quorum queues: a replica on each node). Each server is private to the run (test/helpers), on its own port
 * and data directory, so a restart finds its queues, messages and rows.
 */
import { natsServerAvailable, startNatsServer } from "../../../src/testkit/brokers/nats-server.js";
import { startRabbitmqCluster } from "../../../src/testkit/brokers/rabbitmq-cluster.js";
import {
  rabbitmqServerAvailable,
  startRabbitmqNode,
} from "../../../src/testkit/brokers/rabbitmq-server.js";
import {
  type PostgresStopMode,
  postgresServerMissing,
  startPostgresServer,
} from "../../helpers/postgres-server.js";
import { between, type PlannedFault, rngFor, type Service } from "../harness.js";
import type { Scenario, ScenarioResult } from "./index.js";
import { type Broker, runReviewSwarm, scenarioResult, workload } from "./review-swarm.js";

/** What a restart scenario sets up around the swarm: its broker, its store, the servers it stops. */
interface Setup {
  readonly broker: Broker;
  readonly postgres?: { readonly url: string; readonly port: number };
  readonly services: Readonly<Record<string, Service>>;
  /** Releases everything, the broker included. */
  readonly release: () => Promise<void>;
}

/**
 * `count` stops of `target`, one after the other, each after a quiet gap
 * of `gapMs`, down for `downMs`, in the mode `mode(i, rng)` says.
 */
function stops(
  seed: number,
  options: {
    readonly target: string;
    readonly count: number;
    readonly gapMs: readonly [number, number];
    readonly downMs: readonly [number, number];
    readonly mode: (index: number, rng: { next(): number }) => string;
  },
): PlannedFault[] {
  const rng = rngFor(seed);
  const plan: PlannedFault[] = [];
  let at = 0;
  for (let i = 0; i < options.count; i++) {
    at += between(rng, options.gapMs[0], options.gapMs[1]);
    const forMs = between(rng, options.downMs[0], options.downMs[1]);
    plan.push({
      atMs: at,
      kind: "stop",
      target: options.target,
      forMs,
      mode: options.mode(i, rng),
    });
    // The server takes a few seconds to stop and start on top of its downtime.
    at += forMs + 5_000;
  }
  return plan;
}

function restartScenario(options: {
  readonly name: string;
  readonly what: string;
  readonly missing: () => string | undefined;
  readonly plan: (seed: number) => PlannedFault[];
  /** `log` goes to the run's history (e.g. the broker's final state, on release). */
  readonly setup: (log: (line: string) => void) => Promise<Setup>;
  readonly tasks: number;
  readonly budgetMs: number;
  /**
   * No progress for this long after the last restart healed, with work
   * pending: stuck. The AMQP scenarios need longer than the other
   * scenarios' 40 s: their processes end with the broker and start again
   * after it is back, which takes up to the 90 s the harness allows a first
   * start on a loaded machine.
   */
  readonly stuckAfterMs: number;
  /** The AMQP transport ends its process when the broker goes (the supervisor restarts it). */
  readonly crashesExpected: boolean;
}): Scenario {
  return {
    name: options.name,
    what: options.what,
    missing: options.missing,
    plan: options.plan,
    async run(seed, log, overrides): Promise<ScenarioResult> {
      const started = Date.now();
      const setup = await options.setup(log);
      try {
        const result = await runReviewSwarm({
          name: options.name,
          seed,
          broker: setup.broker,
          ...workload(options, seed, overrides),
          stuckAfterMs: options.stuckAfterMs,
          crashesExpected: options.crashesExpected,
          services: setup.services,
          ...(setup.postgres ? { postgres: setup.postgres } : {}),
          log,
        });
        return scenarioResult(options.name, seed, started, result);
      } finally {
        await setup.release();
      }
    },
  };
}

const rabbitmqMissing = () =>
  rabbitmqServerAvailable() ? undefined : "no rabbitmq-server (and erl) installed";

export const restartScenarios: readonly Scenario[] = [
  restartScenario({
    name: "amqp-restart",
    what: "the review swarm on a private RabbitMQ node, restarted twice mid-run (rabbitmqctl stop or kill -9, drawn from the seed; down 1-3 s) on the same data directory and port",
    missing: rabbitmqMissing,
    plan: (seed) =>
      stops(seed, {
        target: "broker",
        count: 2,
        gapMs: [2_000, 6_000],
        downMs: [1_000, 3_000],
        mode: (_, rng) => (rng.next() < 0.5 ? "graceful" : "kill"),
      }),
    async setup() {
      // Minutes, not the default 30 s: a node started after a kill -9 recovers
      // its queues first, and took over 30 s here under load (seed 42).
      const node = await startRabbitmqNode({ startTimeoutMs: 180_000 });
      return {
        broker: {
          kind: "amqp",
          port: node.amqpPort,
          urlFor: (port) => `amqp://guest:guest@127.0.0.1:${port}`,
          stop: () => node.stop(),
        },
        services: {
          broker: {
            stop: (mode) => node.halt(mode === "kill" ? "kill" : "graceful"),
            start: () => node.start(),
          },
        },
        release: () => node.stop(),
      };
    },
    tasks: 150,
    budgetMs: 240_000,
    stuckAfterMs: 100_000,
    crashesExpected: true,
  }),
  restartScenario({
    name: "pg-restart",
    what: "a Postgres store on a private server stopped 3 times mid-run (pg_ctl stop -m fast; one of them -m immediate, a crash), down 1-4 s, then started again",
    missing: () =>
      postgresServerMissing() ??
      (natsServerAvailable() ? undefined : "no nats-server binary on PATH"),
    plan: (seed) => {
      const crash = rngFor(seed + 1).next() * 3;
      return stops(seed, {
        target: "postgres",
        count: 3,
        gapMs: [1_500, 4_000],
        downMs: [1_000, 4_000],
        mode: (i) => (i === Math.floor(crash) ? "immediate" : "fast"),
      });
    },
    async setup() {
      const server = await startPostgresServer();
      const nats = await startNatsServer().catch(async (error: unknown) => {
        await server.destroy();
        throw error;
      });
      return {
        broker: {
          kind: "nats",
          port: nats.port,
          urlFor: (port) => `nats://127.0.0.1:${port}`,
          stop: () => nats.stop(),
        },
        postgres: { url: server.url, port: server.port },
        services: {
          postgres: {
            stop: (mode) => server.stop(mode as PostgresStopMode),
            start: () => server.start(),
          },
        },
        release: async () => {
          await nats.stop();
          await server.destroy();
        },
      };
    },
    tasks: 150,
    budgetMs: 120_000,
    // Longer than the longest lease in the swarm (the dead-letter queue's 30 s ack wait).
    stuckAfterMs: 40_000,
    crashesExpected: false,
  }),
  restartScenario({
    name: "amqp-cluster-kill",
    what: "a 3-node RabbitMQ cluster (quorum queues, a replica per node; each process on its own node): a node drawn from the seed killed -9 and started again 2-5 s later; twice",
    missing: rabbitmqMissing,
    plan: (seed) => {
      const rng = rngFor(seed + 1);
      return stops(seed, {
        target: "rabbit",
        count: 2,
        gapMs: [2_000, 6_000],
        downMs: [2_000, 5_000],
        mode: () => "kill",
      }).map((fault) => ({ ...fault, target: `rabbit-${between(rng, 1, 3)}` }));
    },
    async setup(log) {
      const cluster = await startRabbitmqCluster(3, 180_000);
      const nodes = cluster.nodes;
      const node = (i: number) => nodes[i] as (typeof nodes)[number];
      // producer on rabbit-1, workers-a on rabbit-2, workers-b on rabbit-3.
      const byProcess: Record<string, number> = { producer: 0, "workers-a": 1, "workers-b": 2 };
      return {
        broker: {
          kind: "amqp",
          port: node(0).amqpPort,
          portFor: (label) => node(byProcess[label] ?? 0).amqpPort,
          urlFor: (port) => `amqp://guest:guest@127.0.0.1:${port}`,
          stop: () => cluster.stop(),
        },
        services: Object.fromEntries(
          nodes.map((n, i) => [
            `rabbit-${i + 1}`,
            { stop: () => n.halt("kill"), start: () => n.start() } satisfies Service,
          ]),
        ),
        async release() {
          // What every queue holds at the end: a task that never came back
          // can be told apart as still in a delay queue, ready, or gone.
          for (const n of nodes) {
            const listed = await n.ctl(
              [
                "list_queues",
                "name",
                "type",
                "leader",
                "messages",
                "messages_ready",
                "messages_unacknowledged",
              ],
              15_000,
            );
            if (listed.code !== 0) continue;
            log(`    queues at the end (asked ${n.nodeName}):`);
            for (const line of listed.output.split("\n"))
              if (line.trim()) log(`      ${line.trim()}`);
            break;
          }
          await cluster.stop();
        },
      };
    },
    tasks: 150,
    budgetMs: 240_000,
    stuckAfterMs: 100_000,
    crashesExpected: true,
  }),
];
