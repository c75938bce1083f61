/**
 * The dashboard's live stream (`LiveFeed`, what `/api/stream` serves) sends
 * each event to a page once: a page that connects while an event waits for
 * the next batch gets it in that batch only (not also among the kept events
 * it is sent first), and an event already batched before the page connected
 * comes among the kept events only. Served over real HTTP from a real swarm,
 * read with fetch as the page's EventSource would.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseSwarmConfig } from "../../src/config/load.js";
import { type LiveEvent, LiveFeed } from "../../src/dashboard/live.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const FLUSH_MS = 600;
const work = mkdtempSync(join(tmpdir(), "conclave-live-once-"));

/** Reads the SSE stream at `url` for `ms`, returning its `events` batches in order. */
async function readStream(url: string, ms: number): Promise<LiveEvent[][]> {
  const stop = new AbortController();
  const response = await fetch(url, { signal: stop.signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  const timer = setTimeout(() => stop.abort(), ms);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // Aborted: done reading.
  } finally {
    clearTimeout(timer);
  }
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("event: events\n"))
    .map(
      (block) =>
        (JSON.parse(block.slice(block.indexOf("data: ") + 6)) as { events: LiveEvent[] }).events,
    );
}

describe("the dashboard's live stream", () => {
  let swarm: Swarm;
  let feed: LiveFeed;
  let server: Server;
  let url: string;

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: live
roles: { lead: {}, writer: { tasks: [write] } }
agents:
  - { id: lead, role: lead }
  - { id: w-1, role: writer }
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role === "writer") agent.handle("write", () => "ok");
        },
      },
    });
    await swarm.start();
    feed = new LiveFeed({
      swarm,
      overview: async () => ({}),
      flushMs: FLUSH_MS,
      overviewMs: 60_000,
    });
    server = createServer((_request, response) => feed.attach(response));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(async () => {
    feed?.stop();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("an event is sent once, whether batched before the page connected or after", async () => {
    feed.start();
    const early = await swarm.submit("writer", "write", 1, { as: "lead" });
    await sleep(FLUSH_MS + 100); // batched before the page connects
    const late = await swarm.submit("writer", "write", 2, { as: "lead" });
    const batches = await readStream(url, FLUSH_MS + 400); // connects before the next batch
    const submitted = (id: string) =>
      batches.map(
        (events) =>
          events.filter((e) => e.type === "task.submitted" && (e.body as { id?: string }).id === id)
            .length,
      );
    assert.deepEqual(submitted(early), [1, 0], "the early event: among the kept events only");
    assert.deepEqual(submitted(late), [0, 1], "the late event: in the next batch only");
  });
});
