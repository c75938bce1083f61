/**
 * A page that stops reading the live stream (a laptop asleep with its TCP
 * connection open, a stuck tab, a script that never reads) must not make the
 * dashboard buffer every batch for it for ever: once what waits unsent for a
 * client passes a bound, the feed drops that client (its EventSource
 * reconnects and is sent the kept events), while a page that reads keeps its
 * stream.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { LiveFeed } from "../../src/dashboard/live.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const FLUSH_MS = 30;
const MiB = 1024 * 1024;

/** The part of a swarm a live feed uses: its node events, pushed by the test; no bus. */
function stubSwarm(): { swarm: Swarm; emit: (event: SwarmEvent) => void } {
  const listeners: ((event: SwarmEvent) => void)[] = [];
  const swarm = {
    name: "slow",
    on(listener: (event: SwarmEvent) => void) {
      listeners.push(listener);
      return () => undefined;
    },
    transport: { subscribe: () => ({ unsubscribe: () => undefined }) },
  } as unknown as Swarm;
  const emit = (event: SwarmEvent) => {
    for (const listener of listeners) listener(event);
  };
  return { swarm, emit };
}

let server: Server | undefined;
let feed: LiveFeed | undefined;
let stalled: Socket | undefined;
after(async () => {
  stalled?.destroy();
  feed?.stop();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

test("a client that stops reading is dropped once its backlog passes the bound; a reading one is kept", async () => {
  const { swarm, emit } = stubSwarm();
  // Few kept events, so that a page that connects is not sent megabytes first.
  feed = new LiveFeed({
    swarm,
    overview: async () => ({}),
    flushMs: FLUSH_MS,
    overviewMs: 60_000,
    keep: 5,
  });
  const responses: ServerResponse[] = [];
  server = createServer((_request, response) => {
    responses.push(response);
    feed?.attach(response);
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  feed.start();

  // A client that sends its request, then never reads a byte.
  stalled = connect(port, "127.0.0.1");
  await new Promise<void>((resolve) => stalled?.once("connect", resolve));
  stalled.write("GET /api/stream HTTP/1.1\r\nhost: dashboard\r\n\r\n");
  stalled.pause();
  while (responses.length < 1) await sleep(5);
  const slow = responses[0] as ServerResponse;

  // 50 events of 100 kB a batch: 5 MB per batch, far more than the sockets' buffers hold.
  const big = "x".repeat(100_000);
  let peak = 0;
  for (let batch = 0; batch < 16 && !slow.destroyed; batch++) {
    for (let i = 0; i < 50; i++) emit({ type: "error", error: `${batch}-${i} ${big}` });
    await sleep(FLUSH_MS * 2);
    peak = Math.max(peak, slow.writableLength);
  }
  assert.equal(
    slow.destroyed,
    true,
    `the stalled client was kept, ${Math.round(peak / MiB)} MiB waiting for it`,
  );
  assert.ok(peak < 32 * MiB, `at most one batch beyond the bound waited for it, not ${peak} bytes`);

  // A page that reads keeps receiving small batches.
  const response = await fetch(`http://127.0.0.1:${port}/api/stream`);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (let i = 0; i < 5; i++) {
    emit({ type: "error", error: `small-${i}` });
    await sleep(FLUSH_MS * 2);
  }
  const deadline = Date.now() + 2_000;
  while (!text.includes("small-4") && Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  assert.match(text, /small-0[\s\S]*small-4/, "the reading client got every small batch");
});
