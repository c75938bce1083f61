/**
 * The metrics endpoint on the loopback (its default) answers only requests
 * addressed to the loopback. It answered any `Host`, so a web page the
 * operator opened could read it by DNS rebinding (its own name, re-resolved
 * to 127.0.0.1 between two fetches, is then same-origin with the endpoint):
 * agent ids, balances, models, queue names, error classes. Prometheus, curl
 * and an SSH tunnel name the loopback and are answered as before; an
 * endpoint bound to another address (`--metrics-host`) is reached by any
 * name.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { SwarmMetrics } from "../../src/runtime/metrics.js";
import { serveMetrics } from "../../src/runtime/metrics-server.js";

const source = { metrics: new SwarmMetrics(), store: { balances: async () => [] } };

/** GET `url` with the `Host` header given. */
function get(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port, pathname } = new URL(url);
    const req = request({ hostname, port, path: pathname, headers: { host } }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("on the loopback, a request naming another host is refused", async () => {
  const served = await serveMetrics(source, { port: 0 });
  try {
    const { port } = new URL(served.url);
    for (const host of [`attacker.example:${port}`, "attacker.example", `10.0.0.5:${port}`]) {
      const answer = await get(served.url, host);
      assert.equal(
        answer.status,
        403,
        `Host ${host}: ${answer.status} ${answer.body.slice(0, 80)}`,
      );
      assert.doesNotMatch(answer.body, /conclave_/);
    }
    for (const host of [
      `127.0.0.1:${port}`,
      "127.0.0.1",
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `[::1]:${port}`,
    ]) {
      const answer = await get(served.url, host);
      assert.equal(answer.status, 200, `Host ${host}: ${answer.body.slice(0, 200)}`);
      assert.match(answer.body, /conclave_tasks_total/);
    }
  } finally {
    await served.close();
  }
});

test("bound to every interface, any name is answered", async () => {
  const served = await serveMetrics(source, { port: 0, host: "0.0.0.0" });
  try {
    const { port } = new URL(served.url);
    const answer = await get(served.url.replace("0.0.0.0", "127.0.0.1"), `node-7.lan:${port}`);
    assert.equal(answer.status, 200);
  } finally {
    await served.close();
  }
});
