/**
 * The HTTP guard every outside request passes (A2A, MCP), over real loopback
 * HTTP and HTTPS: bearer tokens, client certificates under mutual TLS, the
 * per-caller rate on a manual clock, the body size limit (declared and
 * streamed), and how each refusal is answered.
 */
import assert from "node:assert/strict";
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { createServer as createHttpsServer, request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import type { GatewayConfig } from "../../src/config/gateway.js";
import { ManualClock } from "../../src/core/clock.js";
import { ConclaveError } from "../../src/errors/index.js";
import { RateLimitedError, UnauthorizedCallerError } from "../../src/errors/interop.js";
import { HttpGuard, refuse } from "../../src/interop/http-guard.js";
import { generateCertificates, opensslAvailable } from "../helpers/certs.js";

const TOKEN = "guard-token-0123456789";

function settings(overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  return {
    as: "gate",
    host: "127.0.0.1",
    port: 0,
    tokens: { ide: TOKEN, ci: "another-token-0123456789" },
    expose: [],
    pricePerTask: 0,
    maxBodyBytes: 64,
    ratePerMinute: 2,
    waitMs: 1000,
    ...overrides,
  };
}

/** A server that admits, reads the body, and answers the caller's name and the body's size. */
function guarded(guard: HttpGuard, make = createHttpServer): Server {
  return make(async (request, response) => {
    try {
      const caller = guard.admit(request);
      const body = await guard.body(request);
      response.end(JSON.stringify({ caller, size: body.length }));
    } catch (error) {
      refuse(response, error);
    }
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with node's client (so bodies can be chunked, without Content-Length). */
function send(
  port: number,
  options: { headers?: Record<string, string>; chunks?: string[]; tls?: Record<string, unknown> },
): Promise<Answer> {
  const make = options.tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = make(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/",
        headers: options.headers ?? {},
        ...options.tls,
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", (error: NodeJS.ErrnoException) => {
      // The server may close a refused upload before it is all sent.
      if (error.code === "EPIPE" || error.code === "ECONNRESET") return;
      reject(error);
    });
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end();
  });
}

describe("the HTTP guard", () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  test("a bearer token from gateway.tokens names the caller; none, a wrong or a malformed one is a 401", async () => {
    const server = guarded(new HttpGuard(settings({ ratePerMinute: 100 })));
    servers.push(server);
    const port = await listen(server);
    const ok = await send(port, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { caller: "ide", size: 0 });
    const other = await send(port, {
      headers: { authorization: "bearer another-token-0123456789" },
    });
    assert.equal(JSON.parse(other.body).caller, "ci", "the scheme is case-insensitive");
    for (const [headers, reason] of [
      [{}, /no credentials/],
      [
        { authorization: "Bearer wrong-token-0123456789" },
        /not one of the swarm file's gateway\.tokens/,
      ],
      [{ authorization: `Basic ${TOKEN}` }, /not one of/],
      [{ authorization: `Bearer ${TOKEN}x` }, /not one of/],
    ] as const) {
      const refused = await send(port, { headers });
      assert.equal(refused.status, 401);
      assert.equal(refused.headers["www-authenticate"], 'Bearer realm="conclave"');
      const error = JSON.parse(refused.body).error as { code: string; message: string };
      assert.equal(error.code, "E_UNAUTHORIZED");
      assert.match(error.message, reason);
    }
  });

  test("each caller gets ratePerMinute requests, refilled over the minute; past it a 429 says when to retry", () => {
    const clock = new ManualClock(1_000_000);
    const guard = new HttpGuard(settings({ ratePerMinute: 2 }), clock);
    const from = (token: string) =>
      ({
        headers: { authorization: `Bearer ${token}` },
        socket: { remoteAddress: "127.0.0.1" },
      }) as never;
    assert.equal(guard.admit(from(TOKEN)), "ide");
    assert.equal(guard.admit(from(TOKEN)), "ide");
    assert.throws(
      () => guard.admit(from(TOKEN)),
      (error: Error) => {
        assert.ok(error instanceof RateLimitedError);
        assert.equal(error.retryAfterSeconds, 30);
        assert.match(
          error.message,
          /caller "ide" sent more requests than gateway\.ratePerMinute allows; retry in 30 s/,
        );
        return true;
      },
    );
    // Another caller has its own bucket.
    assert.equal(guard.admit(from("another-token-0123456789")), "ci");
    clock.advance(30_000);
    assert.equal(guard.admit(from(TOKEN)), "ide");
    assert.throws(() => guard.admit(from(TOKEN)), RateLimitedError);
    // Failed attempts count against their address: guessing tokens is rate-limited too.
    const stranger = { headers: {}, socket: { remoteAddress: "10.0.0.9" } } as never;
    assert.throws(() => guard.admit(stranger), UnauthorizedCallerError);
    assert.throws(() => guard.admit(stranger), UnauthorizedCallerError);
    assert.throws(
      () => guard.admit(stranger),
      (error: Error) =>
        error instanceof RateLimitedError && /"address:10\.0\.0\.9"/.test(error.message),
    );
    // ...without touching the callers' own buckets.
    clock.advance(30_000);
    assert.equal(guard.admit(from(TOKEN)), "ide");
  });

  test("a body over maxBodyBytes is a 413, by its Content-Length or while it streams in", async () => {
    const server = guarded(new HttpGuard(settings({ ratePerMinute: 100 })));
    servers.push(server);
    const port = await listen(server);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const fits = await send(port, { headers: auth, chunks: ["x".repeat(64)] });
    assert.deepEqual(JSON.parse(fits.body), { caller: "ide", size: 64 });
    const declared = await send(port, {
      headers: { ...auth, "content-length": "65" },
      chunks: ["x".repeat(65)],
    });
    assert.equal(declared.status, 413);
    assert.equal(declared.headers["connection"], "close");
    assert.equal(JSON.parse(declared.body).error.code, "E_REQUEST_TOO_LARGE");
    const streamed = await send(port, {
      headers: { ...auth, "transfer-encoding": "chunked" },
      chunks: ["x".repeat(40), "x".repeat(40)],
    });
    assert.equal(streamed.status, 413);
    assert.match(
      JSON.parse(streamed.body).error.message,
      /exceeds 64 bytes.*raise gateway\.maxBodyBytes/,
    );
  });

  test("refuse: a typed error's status and code; anything else a 500 that leaks nothing", async () => {
    const server = createHttpServer((request, response) => {
      refuse(
        response,
        request.url === "/typed"
          ? new ConclaveError("E_SOMETHING", "a conclave failure without a status")
          : new Error("secret detail"),
      );
    });
    servers.push(server);
    const port = await listen(server);
    const untyped = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(untyped.status, 500);
    const body = await untyped.text();
    assert.doesNotMatch(body, /secret/);
    assert.equal(JSON.parse(body).error.code, "E_INTERNAL");
    const typed = await fetch(`http://127.0.0.1:${port}/typed`);
    assert.equal(typed.status, 500);
    assert.equal(((await typed.json()) as { error: { code: string } }).error.code, "E_SOMETHING");
  });

  test("under mutual TLS a client certificate the CA signed names the caller; another CA's is refused", {
    skip: opensslAvailable() ? false : "no openssl on PATH to make certificates",
  }, async () => {
    const certs = generateCertificates();
    try {
      const tls = { cert: certs.server.certFile, key: certs.server.keyFile, ca: certs.caFile };
      const guard = new HttpGuard(settings({ ratePerMinute: 100, tls }));
      const server = guarded(guard, ((listener: never) =>
        createHttpsServer(
          {
            cert: certs.server.cert,
            key: certs.server.key,
            ca: certs.ca,
            requestCert: true,
            rejectUnauthorized: false,
          },
          listener,
        )) as never);
      servers.push(server);
      const port = await listen(server);
      const client = { cert: certs.client.cert, key: certs.client.key, ca: certs.ca };
      const ok = await send(port, { tls: client });
      assert.equal(ok.status, 200);
      assert.equal(JSON.parse(ok.body).caller, "cert:conclave-client");
      const rogue = await send(port, {
        tls: { cert: certs.rogueClient.cert, key: certs.rogueClient.key, ca: certs.ca },
      });
      assert.equal(rogue.status, 401);
      const none = await send(port, { tls: { ca: certs.ca } });
      assert.equal(none.status, 401);
      // A token still works next to certificates.
      const token = await send(port, {
        tls: { ca: certs.ca },
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(JSON.parse(token.body).caller, "ide");
    } finally {
      certs.cleanup();
    }
  });
});
