/**
 * Binds PBFT replicas (src/consensus/pbft.ts) to the simulated network
 * (src/sim) for scenario and property tests. Signatures are real Ed25519
 * (keys from fixed seeds, so runs replay); verification is real too, with a
 * per-run memo keyed by the exact signed bytes and signature, which is what n
 * replicas checking the same message would each compute.
 */
import type { KeyObject } from "node:crypto";
import {
  createPbftReplica,
  PBFT_MESSAGE_TYPES,
  type PbftBody,
  type PbftCommitted,
  type PbftExpired,
  type PbftRejected,
  type PbftReplica,
  type PbftReplicaConfig,
} from "../../src/consensus/pbft.js";
import type { ByzantineEvidence, Proposal, Verifier, Voter } from "../../src/consensus/types.js";
import type { Clock } from "../../src/core/clock.js";
import { type Random, seededRandom } from "../../src/core/random.js";
import { agentKeyPairFromSeed } from "../../src/identity/keys.js";
import {
  createSimNetwork,
  deriveSeed,
  type LatencyModel,
  type SimNetwork,
  type SimNode,
  type SimTraceEvent,
} from "../../src/sim/index.js";
import { canonicalize } from "../../src/wire/canonical.js";
import {
  createEnvelope,
  type Envelope,
  type EnvelopeFields,
  parseEnvelope,
} from "../../src/wire/envelope.js";
import { signEnvelope, verifyEnvelope } from "../../src/wire/signature.js";

/** Virtual time the runs start at: a plausible epoch time, so ULIDs and deadlines look real. */
export const START_MS = 1_700_000_000_000;

export const PBFT_TYPES: readonly string[] = Object.values(PBFT_MESSAGE_TYPES);

/** Crypto work done by all clusters, for tuning test budgets. */
export const cryptoCounters = { signed: 0, verified: 0 };

const keyCache = new Map<string, { publicKey: KeyObject; privateKey: KeyObject }>();

/** A replica's key pair, derived from its id: the same in every run. */
export function keysOf(id: string) {
  let keys = keyCache.get(id);
  if (keys === undefined) {
    const seed = new Uint8Array(32);
    for (let i = 0; i < id.length; i++) seed[i % 32] = (seed[i % 32] as number) ^ id.charCodeAt(i);
    seed[31] = 0x5a;
    keys = agentKeyPairFromSeed(seed);
    keyCache.set(id, keys);
  }
  return keys;
}

/** What a Byzantine wrapper gets to work with: its own key, never another's. */
export interface ByzantineContext {
  readonly id: string;
  readonly random: Random;
  readonly peers: readonly string[];
  /** Re-creates an envelope (fresh id, `ts` now) with these fields, signed with this replica's key. */
  readonly resign: (fields: EnvelopeFields<unknown>) => Envelope;
  readonly now: () => number;
}

export interface ClusterOptions {
  readonly seed: number;
  readonly n: number;
  readonly f: number;
  readonly latency?: LatencyModel;
  readonly tickMs?: number;
  readonly drop?: number;
  readonly duplicate?: number;
  readonly viewChangeTimeoutTicks?: number;
  /** Voter policy per replica; default accepts everything. */
  readonly validate?: (replica: string, proposal: Proposal) => boolean;
  /** Wrappers that turn replicas Byzantine, by id. */
  readonly byzantine?: ReadonlyMap<
    string,
    (node: SimNode<unknown>, context: ByzantineContext) => SimNode<unknown>
  >;
  readonly trace?: (event: SimTraceEvent<unknown>) => void;
}

/** Everything a replica reported through `ready()`. */
export interface ReplicaLog {
  readonly committed: PbftCommitted[];
  readonly evidence: ByzantineEvidence[];
  readonly expired: PbftExpired[];
  readonly rejected: PbftRejected[];
  /** Messages the harness could not decode as envelopes (the runtime's DLQ). */
  undecodable: number;
}

export interface Cluster {
  readonly net: SimNetwork<unknown>;
  readonly voters: readonly Voter[];
  readonly ids: readonly string[];
  readonly replicas: ReadonlyMap<string, PbftReplica>;
  readonly logs: ReadonlyMap<string, ReplicaLog>;
  readonly verify: Verifier;
  readonly f: number;
  /** Ids of the replicas not made Byzantine. */
  readonly honest: readonly string[];
  /** Calls `propose` on the given replicas (default: all) now, and sends what they say. */
  propose(proposal: Proposal, at?: readonly string[]): void;
  /** Drains a replica's `ready()` into its log and the network. */
  flush(id: string): void;
  /** A signer for replica `id`, as the protocol uses it. */
  signer(id: string): PbftReplicaConfig["sign"];
}

export function replicaId(i: number): string {
  return `r${i}`;
}

/** A proposal whose deadline is `ttlMs` after `now`. */
export function makeProposal(
  name: string,
  now: number,
  ttlMs = 60_000,
  data: unknown = { amount: 100 },
): Proposal {
  return {
    id: `p-${name}`,
    action: "funds.transfer",
    data,
    proposer: "client",
    ts: Math.floor(now),
    deadline: Math.floor(now) + ttlMs,
    protocol: "pbft",
  };
}

export function createCluster(options: ClusterOptions): Cluster {
  const ids = Array.from({ length: options.n }, (_, i) => replicaId(i));
  const voters: Voter[] = ids.map((id) => ({ id, weight: 1, role: "replica" }));
  const net = createSimNetwork<unknown>({
    seed: options.seed,
    latency: options.latency ?? { kind: "uniform", minMs: 1, maxMs: 10 },
    tickMs: options.tickMs ?? 10,
    drop: options.drop ?? 0,
    duplicate: options.duplicate ?? 0,
    startMs: START_MS,
    ...(options.trace ? { trace: options.trace } : {}),
  });
  const publicKeys = new Map(ids.map((id) => [id, keysOf(id).publicKey]));
  // Two memo levels, both sound: by object (envelopes are never mutated; every
  // Byzantine change makes a new object), then by the exact signed bytes.
  const byObject = new WeakMap<object, boolean>();
  const byBytes = new Map<string, boolean>();
  /** Delivered object → its decoded copy (same fields, so the same signed bytes). */
  const parsed = new WeakMap<object, Envelope | null>();
  const verify: Verifier = (envelope) => {
    const copy = parsed.get(envelope);
    const cached = byObject.get(envelope) ?? (copy ? byObject.get(copy) : undefined);
    if (cached !== undefined) return cached;
    const key = publicKeys.get(envelope.from);
    let valid = false;
    if (key !== undefined && typeof envelope.sig === "string") {
      const { sig, ...unsigned } = envelope;
      let memoKey: string | undefined;
      try {
        memoKey = `${envelope.from}|${sig}|${canonicalize(unsigned)}`;
      } catch {
        memoKey = undefined;
      }
      const known = memoKey === undefined ? false : byBytes.get(memoKey);
      if (known !== undefined) {
        valid = known;
      } else {
        cryptoCounters.verified++;
        try {
          verifyEnvelope(envelope, key);
          valid = true;
        } catch {
          valid = false;
        }
        if (memoKey !== undefined) byBytes.set(memoKey, valid);
      }
    }
    byObject.set(envelope, valid);
    return valid;
  };
  const decode = (message: unknown): Envelope | undefined => {
    if (typeof message !== "object" || message === null) return undefined;
    let envelope = parsed.get(message);
    if (envelope === undefined) {
      try {
        envelope = parseEnvelope(message);
      } catch {
        envelope = null;
      }
      parsed.set(message, envelope);
    }
    return envelope ?? undefined;
  };

  const factories = new Map<string, (fields: EnvelopeFields<unknown>, now: number) => Envelope>();
  const factoryFor = (id: string) => {
    let make = factories.get(id);
    if (make === undefined) {
      let time = START_MS;
      const clock: Clock = { now: () => time, setTimer: () => () => undefined };
      const random = seededRandom(deriveSeed(options.seed, `ulid:${id}`));
      const { privateKey } = keysOf(id);
      make = (fields, now) => {
        time = now;
        cryptoCounters.signed++;
        return signEnvelope(createEnvelope(fields, { clock, random }), privateKey);
      };
      factories.set(id, make);
    }
    return make;
  };
  const signer =
    (id: string): PbftReplicaConfig["sign"] =>
    (fields, now) =>
      factoryFor(id)(fields, now) as Envelope<PbftBody>;

  const replicas = new Map<string, PbftReplica>();
  const logs = new Map<string, ReplicaLog>();
  const nodeOutput = (id: string) => {
    const replica = replicas.get(id) as PbftReplica;
    const log = logs.get(id) as ReplicaLog;
    if (!replica.hasReady()) return undefined;
    const ready = replica.ready();
    log.committed.push(...ready.committed);
    log.evidence.push(...ready.evidence);
    log.expired.push(...ready.expired);
    log.rejected.push(...ready.rejected);
    if (ready.send.length === 0) return undefined;
    return { send: ready.send.map((out) => ({ to: out.to, message: out.envelope as unknown })) };
  };

  /**
   * Output produced outside step and tick (by `propose`) must pass through a
   * Byzantine wrapper too: the harness steps the wrapped node with this
   * marker, which the honest core answers by draining its replica.
   */
  const DRAIN = Symbol("drain");
  const wrapped = new Map<string, SimNode<unknown>>();

  for (const id of ids) {
    const replica = createPbftReplica({
      id,
      replicas: voters,
      f: options.f,
      sign: signer(id),
      verify,
      validate: (proposal) => options.validate?.(id, proposal) ?? true,
      viewChangeTimeoutTicks: options.viewChangeTimeoutTicks ?? 20,
      now: START_MS,
    });
    replicas.set(id, replica);
    const log: ReplicaLog = {
      committed: [],
      evidence: [],
      expired: [],
      rejected: [],
      undecodable: 0,
    };
    logs.set(id, log);
    let node: SimNode<unknown> = {
      id,
      step(message, now, from) {
        if (message === DRAIN) return nodeOutput(id);
        const envelope = decode(message);
        if (envelope === undefined) {
          log.undecodable++;
          return undefined;
        }
        replica.step(envelope, now, from);
        return nodeOutput(id);
      },
      tick(now) {
        replica.tick(now);
        return nodeOutput(id);
      },
    };
    const wrap = options.byzantine?.get(id);
    if (wrap !== undefined) {
      const make = factoryFor(id);
      node = wrap(node, {
        id,
        random: net.fork(`byzantine:${id}`),
        peers: ids.filter((other) => other !== id),
        resign: (fields) => make(fields, net.now),
        now: () => net.now,
      });
    }
    wrapped.set(id, node);
    net.add(node);
  }

  const flush = (id: string) => {
    const output = options.byzantine?.has(id)
      ? (wrapped.get(id) as SimNode<unknown>).step(DRAIN, net.now, id)
      : nodeOutput(id);
    if (output === undefined) return;
    for (const { to, message } of output.send) net.send(id, to, message);
  };

  return {
    net,
    voters,
    ids,
    replicas,
    logs,
    verify,
    f: options.f,
    honest: ids.filter((id) => !options.byzantine?.has(id)),
    propose(proposal, at = ids) {
      for (const id of at) {
        if (net.isCrashed(id)) continue;
        (replicas.get(id) as PbftReplica).propose(proposal, net.now);
        flush(id);
      }
    },
    flush,
    signer,
  };
}

/** Strips what `createEnvelope` fills in, to re-create an envelope with changes. */
export function fieldsOf(envelope: Envelope): EnvelopeFields<unknown> {
  const { id: _id, ts: _ts, sig: _sig, ...fields } = envelope;
  return fields;
}

/** True when every listed replica has committed the proposal. */
export function allCommitted(
  cluster: Cluster,
  proposalId: string,
  ids: readonly string[],
): boolean {
  return ids.every((id) =>
    (cluster.logs.get(id) as ReplicaLog).committed.some((c) => c.proposal.id === proposalId),
  );
}

/** A one-line account of a run, for failure messages. */
export function summary(cluster: Cluster): string {
  return cluster.ids
    .map((id) => {
      const status = (cluster.replicas.get(id) as PbftReplica).status();
      const log = cluster.logs.get(id) as ReplicaLog;
      return `${id}: view ${status.view} ${status.mode}, committed [${log.committed
        .map((c) => `${c.seq}=${c.proposal.id}`)
        .join(" ")}], evidence ${log.evidence.length}`;
    })
    .join("; ");
}

/**
 * Records the PBFT messages a run delivers as protocol-trace lines, one per
 * sender, message and instant: `+10ms r1 prepare v0 s1 → r0 r2 r3`.
 */
export function protocolTrace() {
  const groups = new Map<string, { head: string; to: string[] }>();
  const record = (event: SimTraceEvent<unknown>) => {
    if (event.kind !== "deliver" && event.kind !== "drop") return;
    const message = event.message as Partial<Envelope>;
    if (typeof message?.type !== "string" || !PBFT_TYPES.includes(message.type)) return;
    const body = message.body as Record<string, unknown>;
    const kind = message.type.slice("consensus.pbft.".length);
    let label = `${kind} v${body.view}`;
    if (kind === "view-change") {
      const committed = (body.committed as { commits: Envelope<{ seq: number }>[] }[]).map(
        (c) => `s${c.commits[0]?.body.seq}`,
      );
      const prepared = (body.prepared as { prePrepare: Envelope<{ seq: number }> }[]).map(
        (c) => `s${c.prePrepare.body.seq}`,
      );
      if (committed.length > 0) label += ` committed[${committed.join(" ")}]`;
      label += ` prepared[${prepared.join(" ")}]`;
    } else if (kind === "new-view") {
      const seqs = (body.prePrepares as Envelope<{ seq: number; proposal: Proposal | null }>[]).map(
        (p) => `s${p.body.seq}=${p.body.proposal?.id ?? "null"}`,
      );
      label += ` re-proposes[${seqs.join(" ")}]`;
    } else {
      label += ` s${body.seq}`;
      if (kind === "pre-prepare") label += ` ${(body.proposal as Proposal | null)?.id ?? "null"}`;
    }
    const lost = event.kind === "drop" ? ` (lost: ${event.reason})` : "";
    const head = `+${event.at - START_MS}ms ${message.from} ${label}${lost}`;
    const key = `${head}|${event.from}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = { head: event.from === message.from ? head : `${head} via ${event.from}`, to: [] };
      groups.set(key, group);
    }
    group.to.push(event.to);
  };
  return {
    record,
    lines: () => [...groups.values()].map((g) => `${g.head} → ${g.to.join(" ")}`),
  };
}
