/**
 * A worker pool driven by the autoscaler on the simulated network.
 *
 * - `queue` is the broker: tasks arrive on it, it hands each to an idle
 *   worker (one in flight per worker) and takes the worker's `done`. Every
 *   `tickMs` it reports the pool to the supervisor (a status message, so the
 *   supervisor acts on a view one network hop old, as a real one does).
 * - `supervisor` runs the autoscaler on each status and carries out its
 *   actions: a spawn registers the worker after `spawnDelayMs` (the process
 *   starting) and makes it take work `startupMs` later; a retire is a message
 *   to the queue, which stops giving the worker tasks and lets it go once it
 *   holds none (drain). A task dispatched to a worker just before its retire
 *   arrived is finished, not lost.
 * - Workers take a uniform 200–600 ms per task.
 *
 * Load follows `rate(t)` (tasks per second) as a Poisson process.
 */
import type { Random } from "../../src/core/random.js";
import {
  type AutoscaleAction,
  type AutoscalerConfig,
  createAutoscaler,
  type PoolObservation,
  type PoolWorker,
} from "../../src/hierarchy/index.js";
import { createSimNetwork, type SimNetwork, type SimNode } from "../../src/sim/index.js";

type Message =
  | { readonly kind: "task"; readonly task: number }
  | { readonly kind: "done"; readonly task: number; readonly worker: string }
  | { readonly kind: "status"; readonly observation: PoolObservation }
  | { readonly kind: "retire"; readonly ids: readonly string[] };

/** One scaling action as it happened. */
export interface ScalingEvent {
  readonly at: number;
  readonly direction: "up" | "down";
  readonly action: AutoscaleAction;
}

/** The pool at one queue tick. */
export interface PoolSample {
  readonly at: number;
  /** Workers registered and not told to retire, plus spawns not yet registered. */
  readonly size: number;
  readonly queueDepth: number;
}

export interface PoolRun {
  readonly submitted: number;
  /** How many times each task completed. */
  readonly completions: ReadonlyMap<number, number>;
  readonly scaling: readonly ScalingEvent[];
  readonly samples: readonly PoolSample[];
  /** Retire actions that named a worker not idle in the observation the supervisor acted on. */
  readonly retiredWhileBusy: number;
  /** Tasks that reached a worker after it was told to retire (finished by draining). */
  readonly drainedTasks: number;
  readonly workersSpawned: number;
  readonly endedAt: number;
}

export interface PoolScenario {
  readonly seed: number;
  readonly scaler: Omit<AutoscalerConfig, "newWorkerId">;
  /** Tasks per second at virtual time `t` ms. */
  readonly rate: (t: number) => number;
  /** When arrivals stop, ms. */
  readonly loadEndsMs: number;
  /** When the run stops, ms (after the load, to let the pool settle). */
  readonly runUntilMs: number;
  readonly tickMs?: number;
  readonly spawnDelayMs?: number;
  readonly startupMs?: number;
}

interface WorkerState {
  id: string;
  ready: boolean;
  retired: boolean;
  holding: number | undefined;
}

export function runPool(scenario: PoolScenario): PoolRun {
  const tickMs = scenario.tickMs ?? 1_000;
  const spawnDelayMs = scenario.spawnDelayMs ?? 50;
  const startupMs = scenario.startupMs ?? 500;
  const net = createSimNetwork<Message>({
    seed: scenario.seed,
    latency: { kind: "uniform", minMs: 1, maxMs: 20 },
    tickMs,
  });
  const arrivals = net.fork("arrivals");
  const service = net.fork("service");

  const workers = new Map<string, WorkerState>();
  const pending: number[] = [];
  const submittedAt = new Map<number, number>();
  const completions = new Map<number, number>();
  const latencies: { at: number; ms: number }[] = [];
  const scaling: ScalingEvent[] = [];
  const samples: PoolSample[] = [];
  let submitted = 0;
  let awaitedSpawns = 0;
  let retiredWhileBusy = 0;
  let drainedTasks = 0;
  let workersSpawned = 0;

  const dispatch = () => {
    for (const worker of workers.values()) {
      if (pending.length === 0) return;
      if (!worker.ready || worker.retired || worker.holding !== undefined) continue;
      const task = pending.shift() as number;
      worker.holding = task;
      net.send("queue", worker.id, { kind: "task", task });
    }
  };

  const workerNode = (id: string): SimNode<Message> => ({
    id,
    step(message, now) {
      if (message.kind !== "task") return undefined;
      const state = workers.get(id);
      if (state?.retired) drainedTasks++;
      const ms = 200 + service.next() * 400;
      net.at(now + ms, (n) =>
        n.send(id, "queue", { kind: "done", task: message.task, worker: id }),
      );
      return undefined;
    },
  });

  const observe = (now: number): PoolObservation => {
    const recent = latencies.filter((l) => l.at > now - 5_000).map((l) => l.ms);
    recent.sort((a, b) => a - b);
    const p90 = recent[Math.min(recent.length - 1, Math.floor(recent.length * 0.9))];
    const list: PoolWorker[] = [...workers.values()].map((w) => ({
      id: w.id,
      state: w.retired
        ? "draining"
        : !w.ready
          ? "starting"
          : w.holding === undefined
            ? "idle"
            : "busy",
    }));
    let inFlight = 0;
    for (const w of workers.values()) if (w.holding !== undefined) inFlight++;
    return {
      queueDepth: pending.length,
      inFlight,
      ...(p90 === undefined ? {} : { latencyMs: p90 }),
      workers: list,
    };
  };

  net.add({
    id: "queue",
    step(message, now) {
      if (message.kind === "done") {
        const worker = workers.get(message.worker);
        if (worker) {
          worker.holding = undefined;
          if (worker.retired) workers.delete(worker.id);
        }
        completions.set(message.task, (completions.get(message.task) ?? 0) + 1);
        latencies.push({ at: now, ms: now - (submittedAt.get(message.task) as number) });
        dispatch();
      } else if (message.kind === "retire") {
        for (const id of message.ids) {
          const worker = workers.get(id);
          if (!worker) continue;
          worker.retired = true;
          if (worker.holding === undefined) workers.delete(id);
        }
      }
      return undefined;
    },
    tick(now) {
      let size = awaitedSpawns;
      for (const w of workers.values()) if (!w.retired) size++;
      samples.push({ at: now, size, queueDepth: pending.length });
      return {
        send: [{ to: "supervisor", message: { kind: "status", observation: observe(now) } }],
      };
    },
  });

  let counter = 0;
  const scaler = createAutoscaler({ ...scenario.scaler, newWorkerId: () => `w${++counter}` });
  net.add({
    id: "supervisor",
    step(message, now) {
      if (message.kind !== "status") return undefined;
      const { observation } = message;
      const actions = scaler.tick(now, observation);
      for (const action of actions) {
        scaling.push({ at: now, direction: action.kind === "spawn" ? "up" : "down", action });
        if (action.kind === "spawn") {
          for (const id of action.ids) spawn(id);
        } else {
          for (const id of action.ids) {
            const seen = observation.workers.find((w) => w.id === id);
            if (seen?.state !== "idle") retiredWhileBusy++;
          }
        }
      }
      const retire = actions.flatMap((a) => (a.kind === "retire" ? a.ids : []));
      return retire.length === 0
        ? undefined
        : { send: [{ to: "queue", message: { kind: "retire", ids: retire } }] };
    },
  });

  function spawn(id: string) {
    awaitedSpawns++;
    workersSpawned++;
    net.at(net.now + spawnDelayMs, (n) => {
      awaitedSpawns--;
      const state: WorkerState = { id, ready: false, retired: false, holding: undefined };
      workers.set(id, state);
      n.add(workerNode(id));
      n.at(n.now + startupMs, () => {
        state.ready = true;
        dispatch();
      });
    });
  }

  scheduleArrivals(net, arrivals, scenario, (now) => {
    const task = submitted++;
    submittedAt.set(task, now);
    pending.push(task);
    dispatch();
  });
  net.run({ until: scenario.runUntilMs });
  return {
    submitted,
    completions,
    scaling,
    samples,
    retiredWhileBusy,
    drainedTasks,
    workersSpawned,
    endedAt: net.now,
  };
}

/** A Poisson process whose rate follows `scenario.rate`, sampled at each arrival. */
function scheduleArrivals(
  net: SimNetwork<Message>,
  random: Random,
  scenario: PoolScenario,
  arrive: (now: number) => void,
) {
  const next = (from: number) => {
    const rate = Math.max(0.01, scenario.rate(from));
    const gap = (-Math.log(1 - random.next()) / rate) * 1000;
    const at = from + gap;
    if (at >= scenario.loadEndsMs) return;
    net.at(at, () => {
      arrive(at);
      next(at);
    });
  };
  next(0);
}

/** A rate that ramps linearly between the given (time ms, tasks/s) points, flat outside them. */
export function piecewiseRate(
  points: readonly (readonly [number, number])[],
): (t: number) => number {
  return (t) => {
    const first = points[0] as readonly [number, number];
    if (t <= first[0]) return first[1];
    for (let i = 1; i < points.length; i++) {
      const [t1, r1] = points[i] as readonly [number, number];
      const [t0, r0] = points[i - 1] as readonly [number, number];
      if (t <= t1) return r0 + ((r1 - r0) * (t - t0)) / (t1 - t0);
    }
    return (points[points.length - 1] as readonly [number, number])[1];
  };
}

/** How many times consecutive scaling actions went in opposite directions. */
export function directionChanges(scaling: readonly ScalingEvent[]): number {
  let changes = 0;
  for (let i = 1; i < scaling.length; i++) {
    if ((scaling[i] as ScalingEvent).direction !== (scaling[i - 1] as ScalingEvent).direction)
      changes++;
  }
  return changes;
}
