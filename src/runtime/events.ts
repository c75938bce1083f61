import type { ByzantineEvidence, Outcome, ProtocolName, VoteChoice } from "../consensus/types.js";
import type { LlmCallRecord, LlmDelta } from "../llm/ports.js";
import type { RefusalCode } from "../registry/admission.js";
import type { RegistryEvent } from "../registry/registry-view.js";

/**
 * What a swarm reports about itself, for progress views, logs and metrics.
 * These are local observations of one node, not messages on the bus.
 */
export type SwarmEvent =
  | {
      readonly type: "task.submitted";
      readonly id: string;
      readonly role: string;
      readonly task: string;
    }
  | {
      readonly type: "task.completed";
      readonly id: string;
      readonly agent: string;
      /** The role whose queue it came from. */
      readonly role: string;
      readonly task: string;
      readonly durationMs: number;
      readonly attempt: number;
    }
  | {
      readonly type: "task.failed";
      readonly id: string;
      readonly agent: string;
      readonly role: string;
      readonly task: string;
      readonly attempt: number;
      readonly error: string;
      /** False when this was the last allowed delivery or the error was permanent. */
      readonly willRetry: boolean;
    }
  | { readonly type: "task.duplicate"; readonly id: string; readonly agent: string }
  | {
      /**
       * A task sent by another run of the swarm (its `conclave-run` header
       * names another store's run): not run, not recorded in this store,
       * moved unchanged to the queue `parkedIn` for an operator.
       */
      readonly type: "task.other_run";
      readonly id: string;
      /** The run that sent it. */
      readonly run: string;
      /** The subject it was taken from. */
      readonly subject: string;
      readonly parkedIn: string;
    }
  | {
      /**
       * A delivery of a task another delivery is still running (its claim,
       * held by `owner`, has not expired): held, not run, until that one
       * completes (then acked as `task.duplicate`) or its claim lapses.
       */
      readonly type: "task.held";
      readonly id: string;
      readonly agent: string;
      /** Who runs it now: a node's claim owner (`<node id>/<suffix>`), or `this node`. */
      readonly owner: string;
    }
  | {
      readonly type: "task.dead_lettered";
      readonly id: string;
      readonly subject: string;
      readonly reason: string;
      readonly deliveries: number;
    }
  | {
      readonly type: "message.rejected";
      readonly subject: string;
      readonly code: string;
      readonly reason: string;
    }
  | RegistryEvent
  | { readonly type: "agent.trusted"; readonly agent: string }
  | {
      /**
       * Every other node heard recently (at least two) signs its heartbeats
       * further from this node's clock than the 30 s allowed, all on the
       * same side: this node's clock is the one that is off (`offsetMs`:
       * the peers' median clock minus ours). Its agents stop taking tasks,
       * which wait in their queues for the other nodes, until a peer's
       * heartbeat is accepted again (`clock.agreed`). Synchronise this
       * host's clock (NTP).
       */
      readonly type: "clock.outlier";
      readonly offsetMs: number;
      readonly peers: number;
    }
  | {
      /** A peer's heartbeat was accepted again after `clock.outlier`: this node's agents take tasks again. */
      readonly type: "clock.agreed";
    }
  | {
      /**
       * Task `id` found the store unreachable (a connection failure): it
       * waits in place, keeping its lease and its agent's slot, and calls
       * the store again with backoff instead of spending a delivery.
       */
      readonly type: "store.unreachable";
      readonly agent: string;
      readonly id: string;
      readonly reason: string;
    }
  | {
      /**
       * A write to this node's store or queue journal failed because its disk
       * is full (`StoreFullError`): nothing more can be committed here until
       * space is freed. `conclave up` stops and exits 1 on it.
       */
      readonly type: "store.full";
      readonly agent: string;
      readonly error: string;
    }
  | {
      /** The store answered task `id` again after `waitedMs` of waiting (see `store.unreachable`). */
      readonly type: "store.reachable";
      readonly agent: string;
      readonly id: string;
      readonly waitedMs: number;
    }
  | {
      /**
       * A start-up race the runtime retries by itself, not an error: a
       * handshake with a peer that is not listening yet (tried again at its
       * next heartbeat), or a task from a signer whose card has not arrived
       * yet (redelivered later). What never settles still ends as an error,
       * a rejected message or a dead letter.
       */
      readonly type: "trust.retrying";
      readonly agent: string;
      readonly reason: string;
    }
  | {
      /** A card was refused admission: nothing its agent sends is accepted (see `RefusalCode`). */
      readonly type: "agent.refused";
      readonly agent: string;
      readonly code: RefusalCode;
      readonly reason: string;
    }
  | {
      readonly type: "agent.halted";
      readonly agent: string;
      readonly balance: number;
      readonly minBalance: number;
    }
  | { readonly type: "agent.resumed"; readonly agent: string; readonly balance: number }
  | {
      readonly type: "agent.crashed";
      readonly agent: string;
      readonly error: string;
      readonly restart: number;
    }
  | { readonly type: "agent.gave_up"; readonly agent: string; readonly error: string }
  | {
      /** An autoscaling pool hosted here spawned or retired workers (see `AgentPool`). */
      readonly type: "pool.scaled";
      readonly role: string;
      readonly direction: "up" | "down";
      readonly reason: "below-min" | "scale-up" | "above-max" | "scale-down";
      readonly workers: readonly string[];
      /** Workers the pool counts after this change. */
      readonly size: number;
      readonly queueDepth: number;
      readonly inFlight: number;
      readonly latencyMs?: number;
    }
  | {
      /** A retired pool worker finished what it held and left. */
      readonly type: "pool.retired";
      readonly role: string;
      readonly agent: string;
    }
  | {
      /** A role slot changed hands (see `RoleSlots`): its holder was halted, left, or fell below the reputation floor. */
      readonly type: "agent.reassigned";
      readonly role: string;
      readonly slot: number;
      /** The holder that lost the slot; null when the slot was vacant (`vacancy-filled`). */
      readonly from: string | null;
      /** The new holder; null when nobody could take the slot. */
      readonly to: string | null;
      readonly reason: "halted" | "left" | "reputation-below-floor" | "vacancy-filled";
    }
  | {
      /** This node started a round for a privileged action. */
      readonly type: "consensus.proposed";
      readonly proposal: string;
      readonly action: string;
      readonly proposer: string;
      readonly protocol: ProtocolName;
      readonly voters: number;
    }
  | {
      /** A dead letter was sent to its queue again (see `swarm.redrive`). */
      readonly type: "task.redriven";
      readonly id: string;
      readonly subject: string;
      readonly by: string;
      readonly attempt: number;
    }
  | {
      /**
       * The bus acknowledged a task, then lost it: nothing settled it (no
       * completion, no dead letter) and the broker no longer holds it, so it
       * was sent again (`resends` times so far) under a new message id.
       */
      readonly type: "task.resent";
      readonly id: string;
      readonly subject: string;
      readonly resends: number;
    }
  | {
      /**
       * An escrow was asked to settle (`verdict` to `party`) after it had
       * settled differently (the other verdict, or another party or amount:
       * a pass after its task's dead letter refunded it, say): the first
       * settlement stands, this one was not applied.
       */
      readonly type: "escrow.settled_before";
      readonly escrow: string;
      readonly verdict: "pass" | "fail";
      readonly party: string;
    }
  | {
      /** A proposal coordinated here waits for people's votes (until its deadline). */
      readonly type: "consensus.waiting";
      readonly proposal: string;
      readonly action: string;
      readonly humans: readonly string[];
      readonly deadline: number;
    }
  | {
      /** A signed vote reached this coordinator after its round closed: kept in the audit log. */
      readonly type: "consensus.late_vote";
      readonly proposal: string;
      readonly agent: string;
      readonly choice: string;
      readonly lateByMs: number;
    }
  | {
      /** A voter hosted here cast its vote. */
      readonly type: "consensus.voted";
      readonly proposal: string;
      readonly agent: string;
      readonly choice: VoteChoice;
      readonly reason: string;
    }
  | {
      /** A PBFT replica hosted here committed a proposal: it holds a 2f + 1 commit certificate for it. */
      readonly type: "consensus.committed";
      readonly proposal: string;
      readonly agent: string;
      readonly view: number;
      readonly seq: number;
      /** SHA-256 hex of the proposal's canonical JSON. */
      readonly digest: string;
    }
  | {
      /** A round this node coordinates refused a vote as misbehaviour; the evidence goes into the decision. */
      readonly type: "consensus.byzantine";
      readonly proposal: string;
      readonly agent: string;
      readonly kind: ByzantineEvidence["kind"];
      readonly detail: string;
    }
  | {
      /** A round this node coordinates was decided and its decision sealed in the audit log. */
      readonly type: "consensus.decided";
      readonly proposal: string;
      readonly action: string;
      readonly protocol: ProtocolName;
      readonly outcome: Outcome;
      readonly seal: string;
      /** The decision's position in the audit log. */
      readonly seq: number;
      /** Pieces of Byzantine evidence in the decision. */
      readonly byzantine: number;
      /** From the proposal's creation to its decision (`decidedAt - proposal.ts`), ms. */
      readonly durationMs: number;
      /** Why it ended without a vote, when it did (see `Decision.reason`). */
      readonly reason?: string;
    }
  | {
      /** This node called for proposals on a task (round 1 of an auction). */
      readonly type: "auction.opened";
      readonly auction: string;
      readonly task: string;
      readonly role: string;
      readonly rule: string;
      readonly auctioneer: string;
    }
  | {
      /** A bid to an auction this node runs was refused, with its typed reason. */
      readonly type: "auction.bid_rejected";
      readonly auction: string;
      readonly bidder: string;
      readonly reason: string;
      readonly message: string;
    }
  | {
      /** An auction this node ran ended: awarded (winner and price) or unsold (reason). */
      readonly type: "auction.closed";
      readonly auction: string;
      readonly task: string;
      readonly outcome: "awarded" | "unsold";
      readonly winner?: string;
      readonly price?: number;
      readonly reason?: string;
      readonly bids: number;
      readonly rejectedBids: number;
      readonly durationMs: number;
    }
  | ({
      /** A model call of an LLM agent here, fresh or replayed from the task's journal. */
      readonly type: "llm.call";
      readonly agent: string;
      readonly task: string;
    } & LlmCallRecord)
  | ({
      /** Streamed text of an LLM agent's call (when its llm settings publish deltas). */
      readonly type: "llm.delta";
      readonly agent: string;
      readonly task: string;
    } & LlmDelta)
  | {
      /**
       * The bus refused a task because its queue holds its limit (`maxPending`):
       * a submit waits and sends it again with backoff; a handler's message
       * stays in its outbox for the relay.
       */
      readonly type: "queue.full";
      /** The task (or handler run) whose message was refused. */
      readonly task: string;
      readonly queue: string;
      readonly limit: number;
    }
  | { readonly type: "error"; readonly error: string };

/** Receives every {@link SwarmEvent} of this node (`swarm.on`). */
export type SwarmEventListener = (event: SwarmEvent) => void;
