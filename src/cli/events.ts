/**
 * `conclave events`: the swarm's fan-out events as they happen on its
 * broker (`<swarm>.event.<type>`: agents joining and halting, `llm.call`,
 * `ensemble.decided`, auctions, the events handlers publish), decoded and
 * printed one per line. Events are at-most-once: what was published before
 * this command subscribed is not shown.
 */
import { ConfigError, toError } from "../errors/index.js";
import { openTransport } from "../runtime/from-config.js";
import { subjects } from "../runtime/subjects.js";
import { decodeEnvelope } from "../wire/codec.js";
import { loadBrokerSwarm } from "./broker-swarm.js";
import { MAX_TIMER_SECONDS } from "./cli-options.js";
import { timeText } from "./time-text.js";

export interface EventsOptions {
  readonly transport?: string;
  /** Event type, with `*` for one dot-separated word and `>` for the rest, e.g. `llm.*`. */
  readonly type?: string;
  /** Keep printing until SIGINT/SIGTERM. */
  readonly follow: boolean;
  /** Without `follow`: stop after this long (ms) or `limit` events. */
  readonly forMs: number;
  readonly limit?: number;
  readonly json: boolean;
}

/** Subscribes to the swarm's events and prints them; exit 0, or 2 on the embedded transport. */
export async function showEvents(file: string, options: EventsOptions): Promise<number> {
  if (!options.follow && options.forMs > MAX_TIMER_SECONDS * 1000) {
    throw new ConfigError(
      `--seconds is at most ${MAX_TIMER_SECONDS} (about 24 days); to listen until stopped, pass --follow`,
    );
  }
  const config = await loadBrokerSwarm(
    file,
    options.transport ? { transport: options.transport } : {},
    "watch a local run with `conclave up --json`",
  );
  const transport = await openTransport(config);
  let seen = 0;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const subscription = transport.subscribe(
    subjects.event(config.swarm, options.type ?? ">"),
    (message) => {
      // A burst from the broker arrives before the subscription closes: past the limit, print no more.
      if (options.limit !== undefined && seen >= options.limit) return;
      let line: string;
      try {
        const envelope = decodeEnvelope(message.data);
        const record = {
          type: envelope.type,
          from: envelope.from,
          ts: envelope.ts,
          id: envelope.id,
          ...(envelope.cause === undefined ? {} : { cause: envelope.cause }),
          body: envelope.body,
        };
        line = options.json
          ? JSON.stringify(record)
          : `${timeText(envelope.ts)}  ${envelope.type.padEnd(20)} ${envelope.from.padEnd(16)} ${JSON.stringify(envelope.body)}`;
      } catch (error) {
        line = options.json
          ? JSON.stringify({ subject: message.subject, error: toError(error).message })
          : `(unreadable on ${message.subject}: ${toError(error).message})`;
      }
      process.stdout.write(`${line}\n`);
      seen++;
      if (options.limit !== undefined && seen >= options.limit) stop();
    },
  );
  process.stderr.write(`listening on ${subjects.event(config.swarm, options.type ?? ">")}\n`);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  // Cleared when the limit or a signal ends the wait first: it would hold the process open.
  const timer = options.follow ? undefined : setTimeout(stop, options.forMs);
  try {
    await stopped;
  } finally {
    clearTimeout(timer);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    subscription.unsubscribe();
    await transport.close();
  }
  return 0;
}
