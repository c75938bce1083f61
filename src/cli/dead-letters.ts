/**
 * `conclave dead-letters list | show | redrive`: the tasks that will never
 * complete on their own, why, and sending them again once the cause is
 * fixed. `list` and `show` read the store; `redrive` joins the swarm's
 * broker as a node hosting no agent and sends each task to its queue again
 * (see `swarm.redrive`: audited, a refunded escrow only with `--unpaid`).
 */
import { ConfigError, toError } from "../errors/index.js";
import { wasTask } from "../runtime/dead-letters.js";
import { openSwarm } from "../runtime/from-config.js";
import type { DeadLetterRecord } from "../store/port.js";
import { decodeEnvelope } from "../wire/codec.js";
import { loadBrokerSwarm } from "./broker-swarm.js";
import { openStoreTarget, type StoreTarget } from "./store-target.js";
import { timeText } from "./time-text.js";

export interface DeadLetterFilter {
  /** Only dead letters whose reason contains this text (case-insensitive). */
  readonly reason?: string;
  readonly json: boolean;
}

const matches = (record: DeadLetterRecord, reason?: string) =>
  reason === undefined || record.reason.toLowerCase().includes(reason.toLowerCase());

/** Lists dead letters, oldest first, one per line. Exit 0. */
export async function listDeadLetters(
  target: StoreTarget,
  filter: DeadLetterFilter,
): Promise<number> {
  const { store } = await openStoreTarget(target, { create: false });
  let records: DeadLetterRecord[];
  try {
    // Every dead letter, not a page: past it the newest were left out without a word.
    records = (await store.deadLetters({ limit: Number.POSITIVE_INFINITY })).filter((r) =>
      matches(r, filter.reason),
    );
  } finally {
    await store.close();
  }
  for (const { data: _raw, ...r } of records) {
    process.stdout.write(
      filter.json
        ? `${JSON.stringify(r)}\n`
        : `${r.id}  ${timeText(r.at)}  ${r.type ?? "?"}  ×${r.deliveries}  ${r.reason}\n`,
    );
  }
  if (!filter.json) process.stderr.write(`${records.length} dead letters\n`);
  return 0;
}

/** Shows one dead letter with its decoded envelope. Exit 1 when there is none by that id. */
export async function showDeadLetter(
  target: StoreTarget,
  id: string,
  json: boolean,
): Promise<number> {
  const { store } = await openStoreTarget(target, { create: false });
  let record: DeadLetterRecord | undefined;
  try {
    record = await store.deadLetter(id);
  } finally {
    await store.close();
  }
  if (record === undefined) {
    process.stderr.write(`conclave: no dead letter ${id}; conclave dead-letters list shows them\n`);
    return 1;
  }
  const { data, ...rest } = record;
  let envelope: unknown;
  try {
    envelope = decodeEnvelope(Buffer.from(data, "base64"), { maxBytes: Number.MAX_SAFE_INTEGER });
  } catch (error) {
    envelope = { unreadable: toError(error).message };
  }
  const shown = { ...rest, envelope };
  process.stdout.write(json ? `${JSON.stringify(shown)}\n` : `${JSON.stringify(shown, null, 2)}\n`);
  return 0;
}

export interface RedriveCliOptions {
  readonly ids: readonly string[];
  /** Redrive every dead letter (matching `reason` when given). */
  readonly all: boolean;
  readonly reason?: string;
  readonly unpaid: boolean;
  /** Who redrives, for the audit log. Default: the OS user. */
  readonly by: string;
  readonly transport?: string;
  readonly store?: string;
  readonly json: boolean;
}

/**
 * Redrives the dead letters asked for; exit 0 when every one was redriven
 * (sent, or queued in the outbox when the bus refused it for now, as printed),
 * 1 when any was refused.
 */
export async function redriveDeadLetters(
  file: string,
  options: RedriveCliOptions,
): Promise<number> {
  const config = await loadBrokerSwarm(
    file,
    options,
    "redrive from its dashboard (conclave up --dashboard)",
  );
  if (!options.all && options.ids.length === 0) {
    throw new ConfigError(
      "name the dead letters to redrive (their ids), or pass --all [--reason TEXT]",
    );
  }
  // Either would be dropped without a word, redriving what the user did not pick.
  if (options.all && options.ids.length > 0) {
    throw new ConfigError(
      "name the dead letters to redrive or pass --all, not both: --all redrives every dead letter (with --reason: those whose reason matches)",
    );
  }
  if (!options.all && options.reason !== undefined) {
    throw new ConfigError(
      "--reason picks among every dead letter: add --all to redrive those matching (conclave dead-letters list --reason TEXT shows them), or leave it out to redrive the ids named",
    );
  }
  const swarm = await openSwarm(config, { agents: [], createStore: false });
  let failed = 0;
  try {
    await swarm.start();
    let ids = options.ids;
    if (options.all) {
      const listed = (await swarm.store.deadLetters({ limit: Number.POSITIVE_INFINITY })).filter(
        (r) => matches(r, options.reason),
      );
      // Parked input was never a task: --all means every task, and leaves it listed.
      const tasks = listed.filter((r) => wasTask(swarm.name, r));
      const parked = listed.length - tasks.length;
      if (parked > 0) {
        process.stderr.write(
          `${parked} parked input record(s) skipped: not tasks, nothing to run again (conclave dead-letters list shows them)\n`,
        );
      }
      ids = tasks.map((r) => r.id);
    }
    for (const id of ids) {
      try {
        const done = await swarm.redrive(id, { by: options.by, unpaid: options.unpaid });
        process.stdout.write(
          options.json
            ? `${JSON.stringify({ ...done, redriven: true })}\n`
            : done.sent
              ? `${id}  redriven to ${done.subject} (attempt ${done.attempt})\n`
              : `${id}  redriven to ${done.subject} (attempt ${done.attempt}); the bus refused it for now, so it waits in the store's outbox: a running node of the swarm sends it\n`,
        );
      } catch (error) {
        failed++;
        const message = toError(error).message;
        process.stdout.write(
          options.json
            ? `${JSON.stringify({ id, redriven: false, reason: message })}\n`
            : `${id}  refused: ${message}\n`,
        );
      }
    }
  } finally {
    await swarm.close();
  }
  return failed === 0 ? 0 : 1;
}
