/**
 * The chaos proxy does what the scenarios rely on, against a real TCP echo
 * server on loopback: it forwards, a cut resets open connections and refuses
 * new ones until healed, a black hole moves nothing until healed and then
 * delivers what was sent, and a delay keeps the order.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { until } from "../helpers/until.js";
import { type ChaosProxy, startChaosProxy } from "./proxy.js";

describe("chaos proxy", () => {
  let echo: Server;
  let proxy: ChaosProxy;
  let target = 0;
  const sockets = new Set<Socket>();
  before(async () => {
    echo = createServer((socket) => {
      sockets.add(socket);
      // The proxy resets its upstream side on a cut: expected here.
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", () => resolve()));
    const address = echo.address();
    if (!address || typeof address === "string") throw new Error("no port");
    target = address.port;
  });
  // A fresh proxy per test: one test's faults never reach the next.
  beforeEach(async () => {
    proxy = await startChaosProxy(target);
  });
  afterEach(async () => {
    await proxy.close();
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  /** A client through the proxy, with everything it received so far. */
  async function client(): Promise<{
    socket: Socket;
    received: () => string;
    closed: () => string;
  }> {
    const socket = tcpConnect({ host: "127.0.0.1", port: proxy.port });
    let received = "";
    let closed = "";
    socket.on("data", (d: Buffer) => {
      received += d.toString();
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      closed = e.code ?? e.message;
    });
    socket.on("close", () => {
      closed ||= "closed";
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    return { socket, received: () => received, closed: () => closed };
  }

  test("forwards both ways", async () => {
    const c = await client();
    c.socket.write("hello");
    await until(() => c.received() === "hello", 2_000, "the echo");
    c.socket.destroy();
  });

  test("a cut resets open connections and refuses new ones until healed", async () => {
    const c = await client();
    proxy.cut();
    await until(() => c.closed() === "ECONNRESET", 2_000, "the reset");
    const refused = tcpConnect({ host: "127.0.0.1", port: proxy.port });
    const error = await new Promise<string>((resolve) => {
      refused.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      refused.on("close", () => resolve("closed"));
    });
    assert.match(error, /ECONNRESET|closed/);
    proxy.heal();
    const again = await client();
    again.socket.write("back");
    await until(() => again.received() === "back", 2_000, "the echo after the heal");
    again.socket.destroy();
  });

  test("a black hole moves nothing while it lasts, then delivers what was sent", async () => {
    const c = await client();
    proxy.blackhole();
    c.socket.write("held");
    await sleep(300);
    assert.equal(c.received(), "", "nothing crossed the black hole");
    assert.equal(c.closed(), "", "the connection stays open");
    proxy.heal();
    await until(() => c.received() === "held", 2_000, "the held bytes after the heal");
    c.socket.destroy();
  });

  test("a delay forwards late and in order", async () => {
    const c = await client();
    proxy.delay(150);
    const sent = Date.now();
    for (const part of ["a", "b", "c"]) c.socket.write(part);
    await until(() => c.received() === "abc", 3_000, "the delayed echo");
    // Both directions are delayed: at least two delays for a round trip.
    assert.ok(Date.now() - sent >= 280, `arrived after ${Date.now() - sent} ms`);
    proxy.heal();
    c.socket.destroy();
  });
});
