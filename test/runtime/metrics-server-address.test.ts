/**
 * A bad address for the metrics endpoint is a ConfigError saying what to
 * pass. A port out of range was a bare RangeError from `listen`; an empty
 * host bound every interface (not the loopback the endpoint defaults to)
 * and gave the URL `http://:<port>/metrics`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { SwarmMetrics } from "../../src/runtime/metrics.js";
import { serveMetrics } from "../../src/runtime/metrics-server.js";

const source = { metrics: new SwarmMetrics(), store: { balances: async () => [] } };

test("a port out of range, not whole, or not a number is a ConfigError", async () => {
  for (const port of [70_000, -1, 1.5, Number.NaN, "9464" as unknown as number]) {
    await assert.rejects(
      async () => {
        const served = await serveMetrics(source, { port });
        await served.close();
      },
      (error: unknown) =>
        error instanceof ConfigError &&
        /port must be a whole number from 0 to 65535/.test(error.message),
      `port ${String(port)}`,
    );
  }
});

test("an empty host is a ConfigError, not every interface", async () => {
  for (const host of ["", "  "]) {
    await assert.rejects(
      async () => {
        const served = await serveMetrics(source, { port: 0, host });
        await served.close();
      },
      (error: unknown) =>
        error instanceof ConfigError && /host must be an address to bind/.test(error.message),
    );
  }
  const served = await serveMetrics(source, { port: 0 });
  try {
    assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.equal((await fetch(served.url)).status, 200);
  } finally {
    await served.close();
  }
});
