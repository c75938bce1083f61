/**
 * Two brokers of one process on one journal file (two transports each
 * given the same journalPath instead of sharing a broker). The lock file
 * refuses another process but let the same process in twice, and the two
 * brokers numbered their messages from the same sequence: the second one's
 * message overwrote the first one's row, so a message acknowledged to its
 * producer was gone after a restart. The second open is refused, saying to
 * share the broker.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";

test("memory: a second transport on a journal already open in this process is refused; nothing acknowledged is lost", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-review-twice-"));
  const journalPath = join(dir, "journal.db");
  try {
    const a = createMemoryTransport({ journalPath });
    await declareTaskQueues(a, "tw");
    let b: ReturnType<typeof createMemoryTransport> | undefined;
    try {
      b = createMemoryTransport({ journalPath });
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      assert.ok(error.message.includes(journalPath), error.message);
      assert.match(error.message, /broker/, error.message);
    }
    await a.enqueue("tw.task.x", new TextEncoder().encode("from a"), { msgId: "a-1" });
    if (b) {
      await declareTaskQueues(b, "tw");
      await b.enqueue("tw.task.x", new TextEncoder().encode("from b"), { msgId: "b-1" });
      await b.close();
    }
    await a.close();
    // After a restart, both acknowledged messages are there.
    const broker = new MemoryBroker({ journalPath });
    const again = createMemoryTransport({ broker });
    const { work } = await declareTaskQueues(again, "tw");
    const expected = b ? 2 : 1;
    assert.equal((await again.queueInfo(work.name)).pending, expected);
    assert.equal(b, undefined, "the second open is refused");
    await again.close();
    broker.close();
    // Closed, the journal opens again in this process.
    createMemoryTransport({ journalPath }).close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
