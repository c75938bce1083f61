/**
 * A TCP proxy of our own (node:net) between one conclave process and its
 * broker, so a scenario can break that process's link and only that one:
 *
 * - `cut()`: resets every open connection (RST, as a dead link or a NAT
 *   timeout looks to both ends) and refuses new ones until `heal()`;
 * - `blackhole()`: keeps connections open but moves nothing either way (both
 *   sockets stop reading, so the kernel's buffers fill and senders stall):
 *   a partition that TCP does not notice; on heal what was sent arrives, as
 *   TCP's retransmissions would deliver it;
 * - `delay(ms)`: forwards every chunk `ms` later, in order;
 * - `heal()`: forwards again; new connections are accepted.
 *
 * Why not iptables or toxiproxy: no root, no extra binary, and the proxy
 * lives in the scenario's process, so its fault history is exact.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export type ProxyMode = "pass" | "cut" | "blackhole" | "delay";

export interface ChaosProxy {
  /** The loopback port clients connect to. */
  readonly port: number;
  readonly mode: ProxyMode;
  /** Connections accepted so far (a reconnecting client adds one per attempt that got through). */
  readonly accepted: number;
  /** Resets every open connection and refuses new ones until {@link heal}. */
  cut(): void;
  /** Forwards nothing, either way, until {@link heal}; connections stay open. */
  blackhole(): void;
  /** Forwards every chunk `ms` later until {@link heal}. */
  delay(ms: number): void;
  heal(): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** Starts a proxy on a free loopback port that forwards to `127.0.0.1:targetPort`. */
export async function startChaosProxy(targetPort: number): Promise<ChaosProxy> {
  let mode: ProxyMode = "pass";
  let delayMs = 0;
  let accepted = 0;
  const pairs = new Set<Pair>();
  // Every socket still open, whatever its pair's state, so close() leaves none behind.
  const open = new Set<Socket>();
  const track = (socket: Socket) => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  };

  // A reset (RST) only for a socket not already shutting down: Node 20
  // marks a socket's handle closing even when the reset fails (libuv refuses
  // it during a shutdown, as after its peer ended), never closes it, and
  // then spins at 100 % CPU in its exit clean-up, forever (the consensus
  // partition test's process, 1 run in 3). A socket shutting down is just
  // destroyed.
  const reset = (socket: Socket) => {
    if (socket.destroyed) return;
    if (socket.writableEnded || socket.readableEnded || socket.connecting) socket.destroy();
    else socket.resetAndDestroy();
  };
  // Each direction keeps its chunks in order: a chunk is due `delayMs` after
  // it arrived, and never before the one ahead of it.
  const forward = (from: Socket, to: Socket) => {
    const queue: { due: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      timer = undefined;
      while (queue.length > 0) {
        const head = queue[0] as { due: number; chunk: Buffer };
        const wait = head.due - Date.now();
        if (wait > 0) {
          timer = setTimeout(pump, wait);
          return;
        }
        queue.shift();
        if (!to.destroyed) to.write(head.chunk);
      }
    };
    from.on("data", (chunk: Buffer) => {
      queue.push({ due: Date.now() + (mode === "delay" ? delayMs : 0), chunk });
      if (timer === undefined) pump();
    });
  };
  const server: Server = createServer({ noDelay: true }, (client) => {
    track(client);
    client.on("error", () => {});
    if (mode === "cut") {
      reset(client);
      return;
    }
    accepted++;
    const upstream = tcpConnect({ host: "127.0.0.1", port: targetPort, noDelay: true });
    track(upstream);
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      reset(client);
      reset(upstream);
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
    forward(client, upstream);
    forward(upstream, client);
    if (mode === "blackhole") {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("the proxy got no port");

  return {
    port: address.port,
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    cut() {
      mode = "cut";
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        reset(pair.client);
        reset(pair.upstream);
      }
    },
    blackhole() {
      mode = "blackhole";
      for (const pair of pairs) {
        pair.client.pause();
        pair.upstream.pause();
      }
    },
    delay(ms) {
      mode = "delay";
      delayMs = ms;
    },
    heal() {
      mode = "pass";
      delayMs = 0;
      for (const pair of pairs) {
        pair.client.resume();
        pair.upstream.resume();
      }
    },
    async close() {
      for (const pair of pairs) {
        reset(pair.client);
        reset(pair.upstream);
      }
      pairs.clear();
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
