import type { Random } from "../core/random.js";
import { ConfigError } from "../errors/index.js";
import { BROADCAST, type SimNode, type SimOutput, type SimSend } from "./node.js";

/**
 * Byzantine behaviours as wrappers around an honest node. Each returns a
 * {@link SimNode} with the same id that runs the wrapped node and then
 * corrupts what it sends; they compose (`garbage(replaying(equivocating(n)))`).
 * They know nothing about the protocol: whatever protocol-specific lie a
 * behaviour tells (a conflicting vote, a forged signature) comes from the
 * function the caller passes. `src/sim/envelope-faults.ts` has ready-made ones
 * for signed envelopes.
 *
 * Every random choice comes from the `random` passed in; derive it from the
 * run's seed (`network.fork("byzantine:" + id)`) so the run replays.
 */

/** A node that receives everything and sends nothing: a crash that keeps its lease. */
export function silent<M>(node: SimNode<M>): SimNode<M> {
  return {
    id: node.id,
    step(message, now, from) {
      node.step(message, now, from);
      return undefined;
    },
    tick(now) {
      node.tick?.(now);
      return undefined;
    },
  };
}

/** Options of {@link equivocating}. */
export interface EquivocatingOptions<M> {
  readonly random: Random;
  /** Every other node, for splitting a broadcast. */
  readonly peers: readonly string[];
  /** A message that conflicts with `message`, or `undefined` to send `message` unchanged. */
  readonly conflict: (message: M, random: Random) => M | undefined;
  /** Probability that one recipient gets the conflicting version. Default 0.5. */
  readonly probability?: number;
}

/**
 * Tells different peers different things: every message is sent as is to some
 * recipients and as `conflict(message)` to the others (a broadcast is split
 * per recipient; one conflicting version per message).
 */
export function equivocating<M>(node: SimNode<M>, options: EquivocatingOptions<M>): SimNode<M> {
  const p = probability(options.probability ?? 0.5, "probability");
  const { random, peers, conflict } = options;
  const corrupt = (output: SimOutput<M> | undefined): SimOutput<M> | undefined => {
    if (output === undefined) return undefined;
    const send: SimSend<M>[] = [];
    for (const item of output.send) {
      const other = conflict(item.message, random);
      if (other === undefined) {
        send.push(item);
        continue;
      }
      const targets = item.to === BROADCAST ? peers : [item.to];
      for (const to of targets) {
        send.push({ to, message: random.next() < p ? other : item.message });
      }
    }
    return { send };
  };
  return {
    id: node.id,
    step: (message, now, from) => corrupt(node.step(message, now, from)),
    tick: (now) => corrupt(node.tick?.(now)),
  };
}

/** Options of {@link forging}. */
export interface ForgingOptions<M> {
  readonly random: Random;
  /** A forged variant of `message` (another claimed sender, a bad signature), or `undefined`. */
  readonly forge: (message: M, random: Random) => M | undefined;
  /** Probability that an outgoing message gets a forged twin. Default 0.5. */
  readonly probability?: number;
  /** `add` sends the forgery besides the original (default); `replace` sends it instead. */
  readonly mode?: "add" | "replace";
}

/** Sends forgeries of its own messages: claiming another sender, or signed with the wrong key. */
export function forging<M>(node: SimNode<M>, options: ForgingOptions<M>): SimNode<M> {
  const p = probability(options.probability ?? 0.5, "probability");
  const replace = options.mode === "replace";
  const { random, forge } = options;
  const corrupt = (output: SimOutput<M> | undefined): SimOutput<M> | undefined => {
    if (output === undefined) return undefined;
    const send: SimSend<M>[] = [];
    for (const item of output.send) {
      const forged = random.next() < p ? forge(item.message, random) : undefined;
      if (forged === undefined) {
        send.push(item);
        continue;
      }
      if (!replace) send.push(item);
      send.push({ to: item.to, message: forged });
    }
    return { send };
  };
  return {
    id: node.id,
    step: (message, now, from) => corrupt(node.step(message, now, from)),
    tick: (now) => corrupt(node.tick?.(now)),
  };
}

/** Options of {@link replaying}. */
export interface ReplayingOptions {
  readonly random: Random;
  /** Every other node, to pick a target. */
  readonly peers: readonly string[];
  /** Probability per tick of re-sending one remembered message. Default 0.3. */
  readonly probability?: number;
  /** How many messages (received and sent) it remembers; older ones are overwritten. Default 256. */
  readonly capacity?: number;
}

/**
 * Remembers messages it received and sent, and on ticks re-sends old ones,
 * to a random peer or to everyone: a replay attack with genuine, correctly
 * signed messages, its own and others'.
 */
export function replaying<M>(node: SimNode<M>, options: ReplayingOptions): SimNode<M> {
  const p = probability(options.probability ?? 0.3, "probability");
  const capacity = options.capacity ?? 256;
  if (!(Number.isInteger(capacity) && capacity > 0)) {
    throw new ConfigError(`capacity must be a positive integer, got ${capacity}`);
  }
  const { random, peers } = options;
  const memory: M[] = [];
  let next = 0;
  const remember = (message: M) => {
    if (memory.length < capacity) memory.push(message);
    else memory[next] = message;
    next = (next + 1) % capacity;
  };
  const record = (output: SimOutput<M> | undefined) => {
    if (output !== undefined) for (const item of output.send) remember(item.message);
    return output;
  };
  return {
    id: node.id,
    step(message, now, from) {
      remember(message);
      return record(node.step(message, now, from));
    },
    tick(now) {
      const output = record(node.tick?.(now));
      if (memory.length === 0 || random.next() >= p) return output;
      const old = memory[Math.floor(random.next() * memory.length)] as M;
      const to =
        peers.length === 0 || random.next() < 0.5
          ? BROADCAST
          : (peers[Math.floor(random.next() * peers.length)] as string);
      return { send: [...(output?.send ?? []), { to, message: old }] };
    },
  };
}

/** Options of {@link garbage}. */
export interface GarbageOptions<M> {
  readonly random: Random;
  readonly peers: readonly string[];
  /** One piece of junk: undecodable, schema-invalid, or plausible but wrong. */
  readonly make: (random: Random) => M;
  /** Probability per tick of sending one piece of junk. Default 0.3. */
  readonly probability?: number;
}

/** Sends junk now and then, besides what the wrapped node sends. */
export function garbage<M>(node: SimNode<M>, options: GarbageOptions<M>): SimNode<M> {
  const p = probability(options.probability ?? 0.3, "probability");
  const { random, peers, make } = options;
  return {
    id: node.id,
    step: (message, now, from) => node.step(message, now, from),
    tick(now) {
      const output = node.tick?.(now);
      if (random.next() >= p) return output;
      const to =
        peers.length === 0 || random.next() < 0.5
          ? BROADCAST
          : (peers[Math.floor(random.next() * peers.length)] as string);
      return { send: [...(output?.send ?? []), { to, message: make(random) }] };
    },
  };
}

function probability(value: number, name: string): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new ConfigError(`${name} must be a probability in [0, 1], got ${value}`);
  }
  return value;
}
