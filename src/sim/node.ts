/**
 * One message a node wants sent: to one node by id, or to every other node
 * with `"*"`.
 */
export interface SimSend<M> {
  readonly to: string;
  readonly message: M;
}

/** What a node returns from a step or a tick: messages to send. `undefined` sends nothing. */
export interface SimOutput<M> {
  readonly send: readonly SimSend<M>[];
}

/**
 * A protocol state machine as the simulator drives it, in the style of etcd
 * raft: it reacts to a delivered message (`step`) or to the passage of time
 * (`tick`), and answers with the messages it wants sent. It must not keep
 * timers, read the wall clock, or do IO; `now` is the virtual time in ms.
 *
 * `from` is the node the network delivered the message from, which a
 * protocol may compare with the sender a message claims (the simulated
 * equivalent of an authenticated connection).
 *
 * @example
 * ```ts
 * const echo: SimNode<string> = {
 *   id: "echo",
 *   step: (message, _now, from) => ({ send: [{ to: from, message }] }),
 * };
 * ```
 */
export interface SimNode<M> {
  readonly id: string;
  step(message: M, now: number, from: string): SimOutput<M> | undefined;
  /** Called on every network tick (see `tickMs`) while the node is up. */
  tick?(now: number): SimOutput<M> | undefined;
}

/** Broadcast address: every registered node except the sender. */
export const BROADCAST = "*";
