/**
 * The metrics endpoint ends with its swarm: after `swarm.close()` it used to
 * keep listening (the process could not exit) and answer every scrape with
 * a 500 saying the store was closed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { serveMetrics } from "../../src/runtime/metrics-server.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("the metrics endpoint closes when its swarm closes", async () => {
  const t = createTestSwarm({ roles: { dev: { tasks: ["code"] } } });
  const metrics = await serveMetrics(t.swarm, { port: 0 });
  try {
    await t.swarm.start();
    assert.equal((await fetch(metrics.url)).status, 200);
    await t.cleanup();
    // Let the close that follows the transport's run.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = await fetch(metrics.url).then(
      (r) => `HTTP ${r.status}`,
      (error: unknown) => (error as Error).name,
    );
    assert.equal(
      after,
      "TypeError",
      `a scrape after swarm.close() got ${after}, not a refused connection`,
    );
  } finally {
    await metrics.close(); // still safe to call: idempotent
  }
});
