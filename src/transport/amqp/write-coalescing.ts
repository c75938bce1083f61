import type { ChannelModel } from "amqplib";

/** The parts of amqplib's connection this relies on (not in its typings). */
interface Internals {
  readonly stream?: { cork?: unknown; uncork?: unknown };
  readonly muxer?: { _readIncoming?: unknown };
}

/**
 * Makes amqplib write the frames it has queued in one pass as one socket
 * write, and reports whether it could.
 *
 * Why: amqplib queues each channel's frames and, once per turn of the event
 * loop, its multiplexer writes them to the socket one frame at a time. The
 * adapter turns Nagle's algorithm off (with it a confirmed publish at low
 * rates waited about 40 ms for the broker's delayed ACK), so each of those
 * writes was its own system call and TCP segment: two per task (the publish
 * and the ack). Corking the socket for the length of the pass sends them
 * together, which is what Nagle's algorithm did for throughput, without its
 * wait: the pass ends in the same turn.
 *
 * Contract: frames are written in the same order and in the same turn as
 * before; only the number of writes changes. If amqplib's internals are not
 * as expected (another version), nothing is changed and it returns false.
 */
export function coalesceFrameWrites(model: ChannelModel): boolean {
  const connection = (model as unknown as { connection?: Internals }).connection;
  const socket = connection?.stream;
  const muxer = connection?.muxer;
  if (
    socket === undefined ||
    muxer === undefined ||
    typeof socket.cork !== "function" ||
    typeof socket.uncork !== "function" ||
    typeof muxer._readIncoming !== "function"
  ) {
    return false;
  }
  const cork = socket.cork as () => void;
  const uncork = socket.uncork as () => void;
  const pass = muxer._readIncoming as () => void;
  (muxer as { _readIncoming: () => void })._readIncoming = function writePass(this: unknown) {
    cork.call(socket);
    try {
      pass.call(this);
    } finally {
      uncork.call(socket);
    }
  };
  return true;
}
