/**
 * The overview pushed to pages is computed once for all of them — and once
 * at a time: while the store is slow to answer (or not answering: a
 * partition, a lock), each tick of the overview timer and each page that
 * opened started another computation, piling up reads on a store already
 * struggling and holding their promises for as long as it stayed down.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { LiveFeed } from "../../src/dashboard/live.js";
import type { Swarm } from "../../src/runtime/swarm.js";

/** The part of a swarm a live feed uses, quiet: no events, no bus. */
const swarm = {
  name: "in-flight",
  on: () => () => undefined,
  transport: { subscribe: () => ({ unsubscribe: () => undefined }) },
} as unknown as Swarm;

let server: Server | undefined;
let feed: LiveFeed | undefined;
const streams: AbortController[] = [];
after(async () => {
  for (const s of streams) s.abort();
  feed?.stop();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

test("one overview is computed at a time, and every page gets it when it comes", async () => {
  let calls = 0;
  let answer: (value: unknown) => void = () => undefined;
  feed = new LiveFeed({
    swarm,
    overview: () => {
      calls++;
      return new Promise((resolve) => {
        answer = resolve;
      });
    },
    flushMs: 60_000,
    overviewMs: 10,
  });
  server = createServer((_request, response) => feed?.attach(response));
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  feed.start();

  const texts = ["", "", ""];
  const readers = texts.map(async (_, i) => {
    const abort = new AbortController();
    streams.push(abort);
    const response = await fetch(`http://127.0.0.1:${port}/api/stream`, { signal: abort.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      texts[i] += decoder.decode(value, { stream: true });
    }
  });
  // Three pages open and twenty ticks pass while the store does not answer.
  await sleep(200);
  assert.equal(calls, 1, `${calls} overviews computed at once`);

  answer({ completed: 42 });
  await sleep(50);
  for (const text of texts) assert.match(text, /event: overview\ndata: \{"completed":42\}/);
  // The next tick computes a fresh one.
  await sleep(50);
  assert.ok(calls >= 2, "a tick after the answer computes the next overview");
  for (const s of streams) s.abort();
  await Promise.allSettled(readers);
});
