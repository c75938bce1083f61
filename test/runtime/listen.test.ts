/**
 * A server of conclave (metrics, dashboard, A2A, MCP) that cannot listen
 * gives its program a ConfigError naming the address and what to change,
 * with the system's error kept as the cause, not a bare `listen EADDRINUSE`.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, test } from "node:test";
import { listenErrorCode, listenOn } from "../../src/core/listen.js";
import { ConfigError } from "../../src/errors/index.js";
import { type MetricsSource, serveMetrics } from "../../src/runtime/metrics-server.js";

describe("listening on an address that cannot be had", () => {
  let blocker: Server;
  let port: number;
  before(async () => {
    blocker = createServer();
    await new Promise<void>((listening) => blocker.listen(0, "127.0.0.1", listening));
    port = (blocker.address() as { port: number }).port;
  });
  after(() => blocker.close());

  test("a port in use: a ConfigError naming host:port, the system code kept", async () => {
    const server = createServer();
    const error = await listenOn(server, port, "127.0.0.1", "the thing").then(
      () => assert.fail("listened on a port in use"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(
      error.message,
      new RegExp(
        `cannot serve the thing on 127\\.0\\.0\\.1:${port}: the port is in use; pick another port`,
      ),
    );
    assert.equal(listenErrorCode(error), "EADDRINUSE");
    assert.equal(server.listening, false);
  });

  test("serveMetrics on a port in use rejects with that ConfigError", async () => {
    const source = { metrics: {}, store: { balances: async () => [] } } as unknown as MetricsSource;
    await assert.rejects(serveMetrics(source, { port }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(
        e.message,
        new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port}: the port is in use`),
      );
      return true;
    });
  });

  test("a host that is not this machine's: a ConfigError saying to pick another host", async () => {
    const error = await listenOn(createServer(), 0, "192.0.2.1", "metrics").then(
      () => assert.fail("listened on a foreign address"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(
      error.message,
      /192\.0\.2\.1 is not an address of this machine; pick another host/,
    );
    assert.equal(listenErrorCode(error), "EADDRNOTAVAIL");
  });
});
