import type { Channel } from "amqplib";

/**
 * One long-lived channel that reopens on demand. RabbitMQ closes a channel on
 * any channel-level error (a missing queue, an unknown delivery tag), so the
 * adapter never assumes a channel lives forever: `get()` hands out the open
 * one or opens a new one (once, however many callers wait).
 */
export class ChannelSlot<C extends Channel> {
  #current: C | undefined;
  #opening: Promise<C> | undefined;
  #disposed = false;

  constructor(
    private readonly open: () => Promise<C>,
    private readonly hooks: {
      /** Runs on a new channel before anyone gets it (consumers, listeners). */
      readonly setup?: (channel: C) => Promise<void> | void;
      /** A channel-level error no caller is waiting for. */
      readonly onError?: (error: Error) => void;
      /** The channel closed (by the server, or with the connection). */
      readonly onClose?: (channel: C) => void;
    } = {},
  ) {}

  /** The open channel, if there is one right now. */
  get current(): C | undefined {
    return this.#current;
  }

  get(): Promise<C> {
    if (this.#current) return Promise.resolve(this.#current);
    this.#opening ??= this.#open().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #open(): Promise<C> {
    if (this.#disposed) throw new Error("channel slot disposed");
    const channel = await this.open();
    // Without an 'error' listener amqplib's error event would crash the process.
    channel.on("error", (error: Error) => this.hooks.onError?.(error));
    channel.once("close", () => {
      if (this.#current === channel) this.#current = undefined;
      this.hooks.onClose?.(channel);
    });
    try {
      await this.hooks.setup?.(channel);
    } catch (error) {
      await settleWithin(channel.close());
      throw error;
    }
    if (this.#disposed) {
      await settleWithin(channel.close());
      throw new Error("channel slot disposed");
    }
    this.#current = channel;
    return channel;
  }

  /** Closes the channel and refuses to open another. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    const channel = this.#current ?? (await this.#opening?.catch(() => undefined));
    this.#current = undefined;
    if (channel) await settleWithin(channel.close());
  }
}

/**
 * How long a graceful close may take. A broker that stopped answering (out
 * of file descriptors, partitioned) never sends close-ok; close() must still
 * return.
 */
export const CLOSE_TIMEOUT_MS = 3000;

/**
 * Waits for `closing` (errors ignored), at most `ms`; true when it finished in
 * time. Real time on purpose: this is a network timeout, not protocol time,
 * and must fire even under a manual clock.
 */
export function settleWithin(closing: Promise<unknown>, ms = CLOSE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    closing.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}
