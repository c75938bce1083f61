/**
 * What a node hands to each of its parts: one object, built once by the
 * swarm (the composition root), made of narrow interfaces. A part keeps the
 * context and reads only the members it needs; nothing is re-wrapped per
 * part. The parts themselves (outbox, dead letters, membership, consensus,
 * market, the agents' task pipelines) are members too, so each can reach the
 * others through their interfaces without a service locator.
 */

import type { KeyObject } from "node:crypto";
import type { TaskTypeConfig } from "../config/schema.js";
import type { CompiledPolicy } from "../consensus/policy.js";
import type { PrivilegedAction } from "../consensus/rule.js";
import type { Decision } from "../consensus/seal.js";
import type { Clock } from "../core/clock.js";
import type { Random } from "../core/random.js";
import type { BackoffPolicy } from "../delivery/backoff.js";
import type { LedgerOperation } from "../ledger/index.js";
import type { ModelPool } from "../llm/model-pool.js";
import type { AdmissionPolicy, Grant, RefusalCode } from "../registry/admission.js";
import type { AgentCard } from "../registry/agent-card.js";
import type { RegistryView } from "../registry/registry-view.js";
import type { Store, TaskCompletion, TaskOutcome } from "../store/port.js";
import type { Message, Transport } from "../transport/port.js";
import type { Envelope } from "../wire/envelope.js";
import type { Budgets } from "./budget.js";
import type { ProposeOptions } from "./consensus/types.js";
import type { VoteHandler } from "./consensus/voting.js";
import type { SwarmEvent } from "./events.js";
import type { LeaseKeeper } from "./lease.js";
import type { AuctionOptions, AuctionOutcome, BidHandler, OutboxDraft } from "./market/types.js";
import type { McpTools } from "./mcp-tools.js";
import type { TaskClaims } from "./task-claims.js";
import type { TeamBook } from "./teams.js";

/** An identity that signs: an agent id and its private key. */
export interface Signer {
  readonly id: string;
  readonly privateKey: KeyObject;
}

/** Settings of the role an agent plays, resolved from the swarm file. */
export interface RoleSettings {
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly backoff: BackoffPolicy;
  /**
   * `conversation`: a task with `conv` and `seq > 0` runs only after task
   * `seq - 1` of its conversation completed (on any agent or node), or after
   * `gapTimeoutMs` of waiting, whichever comes first.
   */
  readonly ordering: "none" | "conversation";
  readonly gapTimeoutMs: number;
  /**
   * Tasks the role's queue (and each team's queue of the role) holds at most;
   * a submit beyond it fails with `QueueFullError` (a handler's delegation
   * stays in its outbox and is sent again later). Default: no limit.
   */
  readonly maxPending?: number;
}

/** Limits and policies every part applies the same way. */
export interface NodeLimits {
  readonly maxEnvelopeBytes: number;
  /** `required`: every task must be signed by a known agent. */
  readonly signing: "required" | "optional";
  /** How often nodes announce their agents' cards. */
  readonly heartbeatMs: number;
}

/** Where a node reports what it observes (progress views, logs, metrics). */
export interface EventSink {
  emit(event: SwarmEvent): void;
}

/** The keys this node trusts, and the check every received envelope goes through. */
export interface KeyRing {
  /** The public key of a trusted agent (local, or proven by handshake); undefined otherwise. */
  key(agentId: string): KeyObject | undefined;
  /**
   * The key the agent's heartbeats must be signed with: its
   * trusted key, except one proved only in an earlier run (the agent may be
   * back with another key; its heartbeat then brings the new card, which a
   * handshake proves). Undefined when nothing is pinned.
   */
  pinnedKey(agentId: string): KeyObject | undefined;
  /** Whether the agent's key was revoked: its messages are refused for good. */
  revoked(agentId: string): boolean;
  /**
   * Whether a trusted key for the agent may still come, so a task it signed
   * is worth waiting for: its card has been heard (a handshake is under
   * way), or this node started too recently to have heard every live agent.
   */
  mayBecomeTrusted(agentId: string): boolean;
  /**
   * Checks an envelope's signature against its sender's trusted key, under
   * the swarm's signing policy. Throws `SignatureError`, or
   * `UnknownSignerError` for a sender without a trusted key.
   */
  verify(envelope: Envelope): void;
  /**
   * {@link verify}, with the signature arithmetic on the process's verify
   * thread when it has one: for the hot paths that handle what crossed a
   * broker. Returns undefined when the envelope is settled without waiting.
   */
  verifyOffThread(envelope: Envelope): Promise<void> | undefined;
}

/** The roles of the swarm and how their tasks are delivered. */
export interface RoleBook {
  /** Every role's name. */
  readonly names: readonly string[];
  /** The role's settings; throws `ConfigError` for a role the swarm does not define. */
  settings(role: string): RoleSettings;
  /** Task types with their allocation (`tasks:` in the swarm file). */
  readonly tasks: Readonly<Record<string, TaskTypeConfig>>;
  /** The one role that lists a task type, when exactly one does. */
  listing(task: string): string | undefined;
}

/** An agent hosted by this node, as the node's parts see it. */
export interface LocalAgent {
  readonly id: string;
  readonly role: string;
  readonly card: AgentCard;
  readonly signer: Signer;
  /** Tasks handled at once. */
  readonly concurrency: number;
  /** The voter policy from the swarm file (CEL rules), if any. */
  readonly policy: CompiledPolicy | undefined;
  readonly voteHandler: VoteHandler | undefined;
  readonly bidHandler: BidHandler | undefined;
  /** Halted (out of credits): takes no new work and does not bid. */
  readonly paused: boolean;
}

/** The agents this node hosts. */
export interface LocalAgents {
  get(agentId: string): LocalAgent | undefined;
  all(): Iterable<LocalAgent>;
  /** The first hosted agent: signs node-level messages (heartbeats, leaves, handshakes). */
  first(): LocalAgent | undefined;
}

/** Options of {@link TaskOutcomes.wait}. */
export interface WaitOptions {
  /** Stop waiting when aborted (the waiting handler's node stops). */
  readonly signal?: AbortSignal;
  /** Give up after this long, with `TimeoutError`. Default: wait as long as it takes. */
  readonly timeoutMs?: number;
}

/** Waiting, durably, for tasks to be completed or dead-lettered (see `Outcomes`). */
export interface TaskOutcomes {
  /** A task was completed or dead-lettered here: wake whoever waits for it. */
  decided(taskId: string): void;
  /** Resolves with the task's outcome once there is one. */
  wait(taskId: string, options?: WaitOptions): Promise<TaskOutcome>;
}

/** What a handler staged, committed with its task's completion marker. */
export type StagedWrites = Pick<
  TaskCompletion,
  "effects" | "outbox" | "result" | "corr" | "cause" | "sender" | "ledger" | "settles"
>;

/** The transactional outbox: commit a task's writes once, then send them. */
export interface Outbox {
  /**
   * Commits `staged` under `taskId` (once: a repeat commits nothing and gets
   * `duplicate: true`) and sends its messages from memory. A message the bus
   * refuses stays in the store for the relay; it never fails the commit.
   * `full`: one was refused because its queue is full (see {@link deliver}).
   */
  commit(
    taskId: string,
    agent: string,
    staged: StagedWrites,
  ): Promise<{ duplicate: boolean; full?: true }>;
  /**
   * Sends what a task committed earlier and the bus has not taken yet
   * (after a crash). Resolves with whether the bus took all of it; what it
   * refused (reported as an event) stays in the store for the relay.
   */
  resend(taskId: string): Promise<boolean>;
  /**
   * Waits until the bus took every message `taskId` committed, sending again
   * with backoff while it refuses one because its queue is full
   * (`QueueFullError`): how a producer slows to its consumers' pace. Any
   * other refusal, or the node stopping, leaves the rest to the relay.
   * Resolves with how long it waited.
   */
  deliver(taskId: string): Promise<number>;
}

/** Who may join: every card heard is admitted or refused here first. */
export interface AdmissionGate {
  readonly policy: AdmissionPolicy;
  /** The card as granted, or undefined when refused (reported as `agent.refused`). */
  admit(card: AgentCard): Promise<AgentCard | undefined>;
  /** Why an agent is refused, when it is. */
  refusal(agentId: string): { readonly code: RefusalCode; readonly reason: string } | undefined;
  /** Throws `AdmissionError` for a refused agent. */
  assertAdmitted(agentId: string): void;
  /**
   * Whether a key this node proved in an earlier run may be trusted again
   * before the agent is heard: the policy admits the agent with that key
   * without a card (open, or declared), and it is not refused.
   */
  admitsRemembered(agentId: string, publicKey: string): Promise<boolean>;
  /** Refuses an agent for good. */
  revoke(agentId: string, reason: string): void;
  /** What this node admitted an agent as (role, weight, key), when it did. */
  grant(agentId: string): Grant | undefined;
  /** Refuses the agents whose grants ran out before `now` (credentials); returns their ids. */
  expire(now: number): string[];
}

/** Where bad input goes: the dead-letter queue, with its reason. */
export interface BadInputPark {
  park(message: Message, error: unknown): void;
}

/** Consensus as the rest of the node uses it. */
export interface ConsensusPort {
  /** Starts a round as local agent `as`; resolves with the sealed decision. */
  propose(as: string, action: string, data: unknown, options?: ProposeOptions): Promise<Decision>;
  /** Throws `UnapprovedActionError` unless a privileged task carries a valid approval. */
  checkApproval(task: string, envelope: Envelope): Promise<void>;
}

/** The task market as the rest of the node uses it. */
export interface MarketPort {
  /** The role a task type is auctioned to, when the swarm allocates it by auction. */
  auctionRole(task: string): string | undefined;
  /**
   * Runs an auction as local agent `as`; the awarded task (if any) comes
   * back to be staged, with the clearing price's hold (when escrowed) to
   * commit with it.
   */
  auction(
    as: string,
    id: string,
    task: string,
    body: unknown,
    parent: Envelope | undefined,
    options: AuctionOptions,
  ): Promise<{ outcome: AuctionOutcome; draft?: OutboxDraft; hold?: LedgerOperation }>;
  /** After a task is committed (or found committed): settles an awarded task's escrow. */
  completed(envelope: Envelope, agentId: string, firstTime: boolean): Promise<void>;
  /** After a task is dead-lettered: its winner's reputation learns it. */
  failed(envelope: Envelope | undefined): Promise<void>;
}

/** Everything a node's parts share. Built once by the swarm. */
export interface NodeContext {
  /** The swarm's name: the subject prefix. */
  readonly swarm: string;
  /** Names this node in heartbeats and handshakes. */
  readonly nodeId: string;
  /**
   * The run this node belongs to (the store's, see `run-identity.ts`), sent
   * on every task as the `conclave-run` header; undefined until started.
   */
  readonly runId: string | undefined;
  readonly transport: Transport;
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly limits: NodeLimits;
  readonly events: EventSink;
  readonly keys: KeyRing;
  /** Admits or refuses every agent heard from (see `Gatekeeper`). */
  readonly admission: AdmissionGate;
  readonly roles: RoleBook;
  /** The swarm's teams: who leads whom, where a lead's delegation goes. */
  readonly teams: TeamBook;
  readonly agents: LocalAgents;
  /** Every agent heard from, with liveness. */
  readonly registry: RegistryView;
  readonly outbox: Outbox;
  readonly deadLetters: BadInputPark;
  /** Credit budgets of the metered agents hosted here. */
  readonly budgets: Budgets;
  /** The swarm's privileged actions by name (`privileged:` in the swarm file): each runs only once voted. */
  readonly privileged: Readonly<Record<string, PrivilegedAction>>;
  readonly consensus: ConsensusPort;
  readonly market: MarketPort;
  /** Keeps the leases of deliveries being worked on alive. */
  readonly leases: LeaseKeeper;
  /** Claims of the tasks being run, shared through the store: a second live delivery waits. */
  readonly claims: TaskClaims;
  /** Waits for tasks' outcomes (`ctx.call`, `submitAndWait`). */
  readonly outcomes: TaskOutcomes;
  /** The models this node's LLM agents use; undefined when it has none. */
  readonly models: ModelPool | undefined;
  /** The MCP servers' tools this node's LLM agents use; undefined when they use none. */
  readonly mcp: McpTools | undefined;
}
