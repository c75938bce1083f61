/**
 * The one error model of conclave: every failure is a `ConclaveError` with a
 * stable machine-readable `code`, a message that says what was wrong and what
 * to do, and the underlying `cause` kept. Each failure has its own subclass so
 * callers can branch with `instanceof` or on `code`, and every backend throws
 * the same classes.
 *
 * @example
 * ```ts
 * try { await transport.request("swarm.rpc.echo", env, { timeoutMs: 50 }); }
 * catch (err) { if (err instanceof TimeoutError) retryLater(); else throw err; }
 * ```
 */
export class ConclaveError extends Error {
  /** Stable identifier of the failure, e.g. `"E_TIMEOUT"`. Never localised. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** A plain object for logs and JSON output. */
  toJSON(): { name: string; code: string; message: string } {
    return { name: this.name, code: this.code, message: this.message };
  }
}

/** An envelope failed to parse as JSON or failed its schema. */
export class InvalidEnvelopeError extends ConclaveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_INVALID_ENVELOPE", message, options);
  }
}

/**
 * An envelope says it was made further in the future than the receiver's
 * clock allows (`ts` beyond the clock skew): a replay prepared in advance or
 * a broken clock. Refused, never run.
 */
export class ClockSkewError extends ConclaveError {
  constructor(
    readonly ts: number,
    readonly now: number,
    readonly maxSkewMs: number,
  ) {
    super(
      "E_CLOCK_SKEW",
      `envelope ts ${new Date(ts).toISOString()} is ${ts - now} ms ahead of this node's clock (at most ${maxSkewMs} ms allowed); synchronise the sender's clock (NTP)`,
    );
  }
}

/** An encoded envelope is larger than the configured size limit. */
export class EnvelopeTooLargeError extends ConclaveError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      "E_ENVELOPE_TOO_LARGE",
      `envelope is ${size} bytes, over the ${limit}-byte limit; store large payloads elsewhere and send a reference, or raise the limit (maxEnvelopeBytes; on NATS the node also keeps 4 KiB under the server's max_payload, so raise max_payload in the nats-server configuration too)`,
    );
  }
}

/** A signature is missing where one is required, malformed, or does not verify. */
export class SignatureError extends ConclaveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_SIGNATURE", message, options);
  }
}

/**
 * A registry heartbeat signed further from this node's clock than the skew
 * allowed: a replay, or one of the two clocks is off. `offsetMs` is the
 * signer's clock minus ours (positive: the signer is ahead).
 */
export class StaleHeartbeatError extends SignatureError {
  constructor(
    message: string,
    readonly node: string,
    readonly offsetMs: number,
  ) {
    super(message);
  }
}

/**
 * A signed envelope naming another swarm in its `conclave-swarm` header:
 * signed there (the same agent keys serving two swarms on one broker) and
 * sent, or replayed, onto this swarm's subject. Refused, never handled.
 */
export class OtherSwarmError extends SignatureError {
  constructor(
    readonly signedFor: string,
    readonly swarm: string,
  ) {
    super(
      `envelope signed for swarm "${signedFor}" arrived in swarm "${swarm}"; it is refused here. Send it from a node of swarm "${swarm}" (a message signed for one swarm is never valid in another)`,
    );
  }
}

/** A signed envelope from an agent id the node has no trusted public key for. */
export class UnknownSignerError extends SignatureError {
  constructor(readonly agentId: string) {
    super(
      `no public key is known for agent "${agentId}"; it has not announced itself, was revoked, or is not part of this swarm`,
    );
  }
}

/** A key file or key material could not be read, parsed or written. */
export class KeyError extends ConclaveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_KEY", message, options);
  }
}

/** An operation did not complete before its deadline. */
export class TimeoutError extends ConclaveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_TIMEOUT", message, options);
  }
}

/** A request found no subscriber to answer it. */
export class NoRespondersError extends ConclaveError {
  constructor(readonly subject: string) {
    super(
      "E_NO_RESPONDERS",
      `no subscriber answers requests on "${subject}"; start an agent that serves it or check the subject`,
    );
  }
}

/** The transport, store or node was used after `close()` or during `drain()`. */
export class ClosedError extends ConclaveError {
  constructor(what: string) {
    super("E_CLOSED", `${what} is closed; create a new one or call it before close()/drain()`);
  }
}

/** A durable message was enqueued to a subject that no declared queue takes. */
export class UnroutableError extends ConclaveError {
  constructor(readonly subject: string) {
    super(
      "E_UNROUTABLE",
      `no durable queue takes subject "${subject}"; declare one with ensureQueue() whose subjects match, or check the subject`,
    );
  }
}

/** A durable queue is at its configured capacity; the producer should slow down and retry. */
export class QueueFullError extends ConclaveError {
  constructor(
    readonly queue: string,
    readonly limit: number,
  ) {
    super(
      "E_QUEUE_FULL",
      `queue "${queue}" holds its limit of ${limit} pending messages; add consumers, slow the producer, or raise maxPending`,
    );
  }
}

/** A subject or subject pattern is malformed. */
export class InvalidSubjectError extends ConclaveError {
  constructor(
    readonly subject: string,
    reason: string,
  ) {
    super("E_INVALID_SUBJECT", `invalid subject "${subject}": ${reason}`);
  }
}

/** The swarm file or an option is invalid. `path` names the field. */
export class ConfigError extends ConclaveError {
  constructor(
    message: string,
    readonly details: readonly ConfigIssue[] = [],
    options?: { cause?: unknown },
  ) {
    super("E_CONFIG", message, options);
  }
}

/** One problem found in a configuration file. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `agents.2.role`. */
  readonly path: string;
  /** 1-based line in the source file, when known. */
  readonly line?: number;
  readonly message: string;
}

/**
 * A store that was to be read does not exist: no SQLite file at the path, or
 * a Postgres schema without conclave's tables. Reading commands open stores
 * without creating them, so a mistyped path is reported instead of read as an
 * empty store. A `ConfigError`: the command named the wrong place.
 */
export class StoreNotFoundError extends ConfigError {
  override readonly code: string = "E_STORE_NOT_FOUND";

  constructor(
    /** The store as named, credentials removed (`sqlite:/path`, `host/db (schema x)`). */
    readonly store: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `no conclave store at ${store}: ${reason}; check the path or URL (--store, --swarm), or run the swarm first to create it`,
      [],
      options,
    );
  }
}

/**
 * The queue journal and the store a node was started with were written by
 * different runs (each records the run id it was started with). Resuming
 * from them would deliver one run's queued messages against another run's
 * completed tasks: effects applied twice, or tasks counted as lost.
 */
export class StateMismatchError extends ConfigError {
  override readonly code: string = "E_STATE_MISMATCH";

  constructor(
    /** Path of the queue journal. */
    readonly journal: string,
    /** The store, credentials removed. */
    readonly store: string,
    reason: string,
  ) {
    super(
      `the queue journal ${journal} and the store ${store} do not belong to the same run: ${reason}; start with the --data-dir that holds this store's journal, or start afresh by deleting the data folder (and the store, if it lives elsewhere)`,
    );
  }
}

/**
 * A task arrived whose type no handler of the receiving agent knows.
 * `taskType` is the envelope's type (`task.<name>`); the hint names what
 * `agent.handle` takes: the name without the `task.` prefix.
 */
export class UnknownTaskTypeError extends ConclaveError {
  /** The task's name as `agent.handle(name, …)` and the role's `tasks:` spell it. */
  readonly handlerName: string;

  constructor(readonly taskType: string) {
    const name = taskType.startsWith("task.") ? taskType.slice("task.".length) : taskType;
    super(
      "E_UNKNOWN_TASK_TYPE",
      `no handler for task "${name}" (envelope type "${taskType}"); register one with agent.handle("${name}", ...) and list it under the role's tasks, or fix the publisher's spelling`,
    );
    this.handlerName = name;
  }
}

/** No live, trusted agent can take work for a role. */
export class NoRouteError extends ConclaveError {
  constructor(readonly role: string) {
    super(
      "E_NO_ROUTE",
      `no live agent with role "${role}" is available; start one or check its heartbeats`,
    );
  }
}

/**
 * Thrown by a handler to say retrying cannot help: the task goes straight to
 * the dead-letter queue with this message as the reason.
 */
export class PermanentError extends ConclaveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_PERMANENT", message, options);
  }
}

/**
 * A handler charged a model (`ctx.spend({ model, … })`) that the swarm's
 * price table does not list. Permanent: retrying cannot price it, so the
 * task is dead-lettered at once with this reason instead of being retried
 * up to `maxDeliver` times. (Models under the swarm file's `models:` are
 * checked at start; a handler's own model names are only known when it
 * charges them.)
 */
export class UnpricedModelError extends PermanentError {
  override readonly code: string = "E_UNPRICED_MODEL";

  constructor(
    readonly model: string,
    priceVersion: string | undefined,
  ) {
    super(
      priceVersion === undefined
        ? `no price table for model "${model}": add prices: { creditsPerUsd: …, models: { "${model}": { input: <USD per 1M input tokens>, output: <USD per 1M output tokens> } } } to the swarm file`
        : `no price for model "${model}" in price table ${priceVersion}: add it under prices.models in the swarm file (input and output in USD per 1M tokens)`,
    );
  }
}

/**
 * A handler returned a result, or recorded an effect's data, that is not
 * plain JSON data (a function, a symbol, a bigint, NaN, a Date, a Map...):
 * stored or sent, it would be dropped or changed without a word. Permanent:
 * the same handler returns the same kind of value, so the task is
 * dead-lettered at once with the path of the first offending value.
 */
export class NotJsonError extends PermanentError {
  override readonly code: string = "E_NOT_JSON";
}

/**
 * A child task a handler called (`ctx.call`, a tool of an LLM agent) was
 * dead-lettered instead of completed: the caller cannot get its result.
 * Permanent: calling again would wait on the same dead child.
 */
export class ChildTaskFailedError extends PermanentError {
  override readonly code: string = "E_CHILD_FAILED";

  constructor(
    readonly taskId: string,
    readonly reason: string,
  ) {
    super(`child task ${taskId} was dead-lettered: ${reason}`);
  }
}

/**
 * Thrown by a handler when the agent itself is broken (lost its model session,
 * corrupted state), not just this task: the agent stops taking work, its task
 * goes back to the queue for others, and the supervisor restarts the agent
 * with backoff.
 */
export class AgentCrashError extends ConclaveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_AGENT_CRASH", message, options);
  }
}

/** A handler failed; the task will be retried or dead-lettered. Wraps the thrown value. */
export class HandlerError extends ConclaveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_HANDLER", message, options);
  }
}

/** A store operation failed (I/O, constraint, migration). */
export class StoreError extends ConclaveError {
  constructor(message: string, options?: { cause?: unknown }, code = "E_STORE") {
    super(code, message, options);
  }
}

/**
 * The disk under a store or a queue journal is full (SQLite's SQLITE_FULL,
 * the system's ENOSPC): the write failed as a whole and nothing of it was
 * kept; what was acknowledged before is intact. Retrying does not help until
 * space is freed.
 */
export class StoreFullError extends StoreError {
  constructor(
    readonly what: string,
    readonly location: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${what} failed: the disk under ${location} is full; nothing of this write was kept and what was acknowledged before is intact. Free space there (or move the data folder) and start again`,
      options,
      "E_STORE_FULL",
    );
  }
}

/** A message arrived out of order in a way the ordering policy cannot repair. */
export class OrderingError extends ConclaveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_ORDERING", message, options);
  }
}

/** Turns anything thrown into an Error without losing it. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === "string" ? value : JSON.stringify(value));
}

/**
 * The message broker could not be reached, dropped the connection for good,
 * or refused an operation for a reason no more specific class covers. The
 * driver's error is kept as `cause`; credentials never appear in the message.
 */
export class TransportError extends ConclaveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_TRANSPORT", message, options);
  }
}

/**
 * The broker has not stored an enqueue yet: an earlier publish of the same
 * message id is still being replicated (NATS answers "duplicate" with
 * sequence 0), and may still be dropped. Retry; a proposal dropped when a
 * stream's leader lost its place keeps the id refused this way until the
 * stream's duplicate window passes, so the outbox sends a task refused so
 * for 10 s under a new message id. A `TransportError`.
 */
export class ReplicationPendingError extends TransportError {
  override readonly code: string = "E_REPLICATION_PENDING";
}

/**
 * The TLS handshake with a broker failed: the broker refused this client's
 * certificate (or the lack of one, under mutual TLS), or this client did not
 * trust the broker's certificate. The message says which, and which
 * certificate or CA setting to check. A `TransportError`, so code that
 * handles connection failures as a whole keeps working.
 */
export class TlsHandshakeError extends TransportError {
  override readonly code: string = "E_TLS_HANDSHAKE";
  /** `server-refused`: the broker rejected our certificate; `server-untrusted`: we rejected the broker's. */
  readonly side: "server-refused" | "server-untrusted";

  constructor(
    side: "server-refused" | "server-untrusted",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.side = side;
  }
}

/**
 * A proposal ended without enough approving weight before its deadline
 * (`no-quorum`): too few voters answered. Nothing was decided either way.
 */
export class QuorumNotReachedError extends ConclaveError {
  constructor(
    readonly proposal: string,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(
      "E_QUORUM_NOT_REACHED",
      message ??
        `proposal ${proposal} reached no quorum before its deadline; check that enough voters are live, then propose again with a later deadline or a lower threshold`,
      options,
    );
  }
}

/**
 * A privileged action was about to run without a sealed, verified approval
 * for exactly that action: no decision, a decision for another action, or an
 * outcome other than `approved`.
 */
export class UnapprovedActionError extends ConclaveError {
  constructor(
    readonly action: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      "E_UNAPPROVED_ACTION",
      `privileged action "${action}" refused: ${reason}; propose it (ctx.propose) and run it only with the approved, sealed decision`,
      options,
    );
  }
}

/**
 * A voter policy is malformed or one of its CEL expressions does not
 * compile. `rule` is the 0-based index of the offending rule (undefined for
 * the policy as a whole); `position` is 1-based line and column within the
 * expression.
 */
export class PolicyError extends ConclaveError {
  constructor(
    message: string,
    readonly rule?: number,
    readonly position?: { readonly line: number; readonly column: number },
    options?: { cause?: unknown },
  ) {
    super("E_POLICY", message, options);
  }
}

/**
 * A sealed decision or the audit chain failed verification: a seal that
 * does not match its contents, a broken link, a bad signature, or a tally or
 * outcome that the votes do not support. `index` names the first bad entry of
 * a chain.
 */
export class AuditChainError extends ConclaveError {
  constructor(
    message: string,
    readonly index?: number,
    options?: { cause?: unknown },
  ) {
    super("E_AUDIT_CHAIN", message, options);
  }
}

/**
 * The terms of an auction are unusable: a missing or malformed field, or a
 * combination that could never clear (a Dutch clock starting below its
 * reserve, criteria on a rule that ignores them). `field` names the offending
 * term, e.g. `criteria.1.weight`.
 */
export class AuctionTermsError extends ConclaveError {
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("E_AUCTION_TERMS", `auction terms: ${field} ${message}`, options);
  }
}

/**
 * A bid was refused by an auction or its bid gate. `reason` is the stable,
 * machine-readable rejection (the market layer's `BidRejection`, e.g.
 * `"bad-signature"`, `"late"`, `"too-small-raise"`); the message says what to
 * do about it. Auctions return rejections as values; this class is for
 * callers that prefer to throw one.
 */
export class BidRejectedError<Reason extends string = string> extends ConclaveError {
  constructor(
    readonly reason: Reason,
    readonly auction: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("E_BID_REJECTED", `bid on auction ${auction} rejected (${reason}): ${message}`, options);
  }
}

/** A person's vote was not taken: no such open proposal, not one of its human voters, or a bad signature. */
export class VoteRefusedError extends ConclaveError {
  constructor(message: string) {
    super("E_VOTE_REFUSED", message);
  }
}

/** A dead letter cannot be redriven as asked: none by that id, not a task, already completed, past its deadline, or paid by an escrow already refunded. */
export class RedriveRefusedError extends ConclaveError {
  constructor(message: string) {
    super("E_REDRIVE_REFUSED", message);
  }
}
