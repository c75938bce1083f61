import assert from "node:assert/strict";
import { test } from "node:test";
import { SwarmMetrics } from "../../src/runtime/metrics.js";
import { serveMetrics } from "../../src/runtime/metrics-server.js";

// HTTP: HEAD answers as GET would, without the body (health checks use it);
// a method the endpoint does not serve is 405 with `Allow`, not "404 not found".
test("HEAD /metrics is 200 with the exposition content type; POST is 405 with Allow", async () => {
  const metrics = new SwarmMetrics();
  const server = await serveMetrics({ metrics, store: { balances: async () => [] } }, { port: 0 });
  try {
    const head = await fetch(server.url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-type"), metrics.registry.contentType);
    assert.equal(await head.text(), "");
    const post = await fetch(server.url, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.text();
    const other = await fetch(server.url.replace("/metrics", "/other"));
    assert.equal(other.status, 404);
    await other.text();
  } finally {
    await server.close();
  }
});
