/**
 * Which run of a swarm a task belongs to. A run is one store: the first node
 * to start on a store draws a run id and records it there (meta
 * `conclave.run`); every node on that store, and every restart of one,
 * reads the same id and puts it in the `conclave-run` header of each task it
 * sends (in the envelope, so signed with it). A new run on the same broker
 * and swarm name (a fresh store, perhaps fresh keys) meets the old run's
 * still-queued tasks: they carry another run id, so they are neither run
 * nor dead-lettered nor recorded in this run's store. They are moved,
 * unchanged, to the queue `<swarm>-other-runs` (subject
 * `<swarm>.other-run.<queue>`), which nobody consumes: an operator sees its
 * depth (the dashboard's queues, `swarm.queues()`) and decides; and each one is reported as
 * `task.other_run`, counted in the run's summary.
 */
import type { Clock } from "../core/clock.js";
import { OtherSwarmError, SignatureError } from "../errors/index.js";
import type { IdempotencyStore, MetaStore } from "../store/port.js";
import type { Delivery } from "../transport/port.js";
import type { Envelope } from "../wire/envelope.js";
import { ulid } from "../wire/ulid.js";
import type { SwarmEvent } from "./events.js";
import { queueNames, subjects } from "./subjects.js";

/** The envelope header naming the run that sent a task. */
export const RUN_HEADER = "conclave-run";
/** Where a store records its run id. */
export const RUN_META_KEY = "conclave.run";
/** Transport header of a parked task: the run it came from. */
export const OTHER_RUN_HEADER = "conclave-other-run";

/** The run id recorded in `store`, drawn and recorded now when it has none. */
export async function establishRun(
  store: MetaStore & IdempotencyStore,
  clock: Clock,
): Promise<string> {
  const recorded = await store.getMeta(RUN_META_KEY);
  if (recorded !== undefined) return recorded;
  // Two nodes starting on a fresh store at once: the claim decides, both record its winner.
  const fresh = `run-${ulid(clock)}`;
  const claim = await store.claimIdempotencyKey(RUN_META_KEY, { id: fresh });
  const won = claim.first ? fresh : ((claim.result as { id?: string } | undefined)?.id ?? fresh);
  await store.setMeta(RUN_META_KEY, won);
  return won;
}

/**
 * The run a task comes from when it is a leftover of another run: it names
 * a run other than `ours` and failed to verify here (`SignatureError`, or
 * `UnknownSignerError`: that run's keys are not this run's). A task of
 * another run that verifies is this swarm's work (a node with a store of
 * its own) and is handled as usual.
 */
export function strayRun(
  envelope: Envelope | undefined,
  ours: string | undefined,
  error: unknown,
): string | undefined {
  // A task signed for another swarm is refused as such, not parked as a leftover.
  return error instanceof SignatureError && !(error instanceof OtherSwarmError)
    ? otherRunOf(envelope, ours)
    : undefined;
}

/** The run an envelope names, when it names one other than `ours`. */
export function otherRunOf(
  envelope: Envelope | undefined,
  ours: string | undefined,
): string | undefined {
  const run = envelope?.headers?.[RUN_HEADER];
  return run === undefined || ours === undefined || run === ours ? undefined : run;
}

/** What parking a task of another run needs of the node. */
export interface ParkingNode {
  readonly swarm: string;
  readonly transport: {
    enqueue(
      subject: string,
      data: Uint8Array,
      options: { msgId: string; headers?: Record<string, string> },
    ): Promise<unknown>;
  };
  readonly events: { emit(event: SwarmEvent): void };
}

/**
 * Moves a task of another run to `<swarm>-other-runs` unchanged and acks it
 * here; when the move fails it is nak'ed (kept where it was) after a while.
 */
export async function parkOtherRun(
  node: ParkingNode,
  delivery: Delivery,
  envelope: Envelope,
  run: string,
  from: string,
): Promise<void> {
  const queue = from.replace(/[^A-Za-z0-9_-]/g, "_");
  try {
    await node.transport.enqueue(subjects.otherRun(node.swarm, queue), delivery.data, {
      msgId: `other-run:${delivery.msgId || envelope.id}`,
      headers: { [OTHER_RUN_HEADER]: run, "conclave-original-subject": delivery.subject },
    });
  } catch (error) {
    await delivery.nak({
      delayMs: 5000,
      reason: `parking a task of run ${run} failed: ${error instanceof Error ? error.message : String(error)}`,
    });
    return;
  }
  await delivery.ack();
  node.events.emit({
    type: "task.other_run",
    id: envelope.id,
    run,
    subject: delivery.subject,
    parkedIn: queueNames.otherRuns(node.swarm),
  });
}
