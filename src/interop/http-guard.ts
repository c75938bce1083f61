/**
 * What every HTTP request from outside passes before it reaches the swarm,
 * whichever protocol it speaks (A2A JSON-RPC, MCP streamable HTTP): who is
 * calling (a bearer token from `gateway.tokens`, or a client certificate
 * under mutual TLS), whether they are within `gateway.ratePerMinute`, and a
 * body no larger than `gateway.maxBodyBytes`. Refusals are typed errors with
 * an HTTP status (see `src/errors/interop.ts`).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { GatewayConfig } from "../config/gateway.js";
import { type Clock, systemClock } from "../core/clock.js";
import { ConclaveError, ConfigError } from "../errors/index.js";
import {
  RateLimitedError,
  RequestTooLargeError,
  UnauthorizedCallerError,
} from "../errors/interop.js";

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

/** A token bucket per caller: `ratePerMinute` requests a minute, in bursts of as many. */
class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #perMs: number;

  constructor(
    readonly ratePerMinute: number,
    readonly clock: Clock,
  ) {
    this.#perMs = ratePerMinute / 60_000;
  }

  /**
   * Takes `count` requests from `caller`'s bucket, all or none.
   * @throws RateLimitedError when it holds fewer.
   */
  take(caller: string, count = 1): void {
    const now = this.clock.now();
    if (this.#buckets.size >= MAX_BUCKETS) this.#prune(now);
    const bucket = this.#buckets.get(caller) ?? { tokens: this.ratePerMinute, at: now };
    bucket.tokens = Math.min(this.ratePerMinute, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    this.#buckets.set(caller, bucket);
    if (bucket.tokens < count) {
      throw new RateLimitedError(
        caller,
        Math.ceil((Math.min(count, this.ratePerMinute) - bucket.tokens) / this.#perMs / 1000),
      );
    }
    bucket.tokens -= count;
  }

  /** Forgets buckets idle for a minute: they are full again, as a new one would be. */
  #prune(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.at >= 60_000) this.#buckets.delete(key);
    }
  }
}

/** Buckets kept before idle ones are forgotten (failed attempts are counted per address). */
const MAX_BUCKETS = 10_000;

export class HttpGuard {
  readonly #tokens: readonly { name: string; digest: Buffer }[];
  readonly #mutualTls: boolean;
  readonly #limiter: RateLimiter;
  readonly maxBodyBytes: number;

  constructor(gateway: GatewayConfig, clock: Clock = systemClock) {
    // Compared as digests: equal length, so timingSafeEqual leaks nothing about a token's length.
    this.#tokens = Object.entries(gateway.tokens).map(([name, token]) => ({
      name,
      digest: digest(token),
    }));
    this.#mutualTls = gateway.tls !== undefined;
    this.#limiter = new RateLimiter(gateway.ratePerMinute, clock);
    this.maxBodyBytes = gateway.maxBodyBytes;
  }

  /**
   * The caller's name, once authenticated and within its rate.
   * @throws UnauthorizedCallerError, RateLimitedError
   */
  admit(request: IncomingMessage): string {
    let caller: string;
    try {
      caller = this.#authenticate(request);
    } catch (error) {
      // Failed attempts count against the address they come from, so tokens
      // cannot be guessed at line speed.
      this.#limiter.take(`address:${request.socket?.remoteAddress ?? "unknown"}`);
      throw error;
    }
    this.#limiter.take(caller);
    return caller;
  }

  /**
   * Counts `count` more requests of an admitted `caller` against its rate:
   * the messages of a JSON-RPC batch past the first, which {@link admit}
   * counted. Each message is a call (an MCP `tools/call` starts a task), so
   * a batch does not multiply what the rate lets through.
   * @throws RateLimitedError
   */
  countMore(caller: string, count: number): void {
    if (count > 0) this.#limiter.take(caller, count);
  }

  #authenticate(request: IncomingMessage): string {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (match?.[1] !== undefined) {
        const presented = digest(match[1]);
        // Every token is compared, so timing does not tell which one matched.
        let found: string | undefined;
        for (const t of this.#tokens) {
          if (timingSafeEqual(t.digest, presented)) found ??= t.name;
        }
        if (found !== undefined) return found;
      }
      throw new UnauthorizedCallerError("wrong");
    }
    if (this.#mutualTls) {
      const socket = request.socket as TLSSocket;
      // The server requires and verifies client certificates: an authorized socket has one.
      if (socket.authorized) {
        const cn = socket.getPeerCertificate().subject?.CN;
        const name = Array.isArray(cn) ? cn[0] : cn;
        if (name) return `cert:${name}`;
      }
    }
    throw new UnauthorizedCallerError("missing");
  }

  /**
   * The request's body, refused past `maxBodyBytes` (by its Content-Length
   * before reading, or while reading when it has none).
   * @throws RequestTooLargeError
   */
  async body(request: IncomingMessage): Promise<Buffer> {
    const declared = Number(request.headers["content-length"]);
    if (Number.isFinite(declared) && declared > this.maxBodyBytes) {
      throw new RequestTooLargeError(this.maxBodyBytes);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size > this.maxBodyBytes) throw new RequestTooLargeError(this.maxBodyBytes);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }
}

/**
 * Answers a refused request: the error's HTTP status (500 for anything
 * untyped) and a JSON body `{ error: { code, message } }`.
 */
export function refuse(response: ServerResponse, error: unknown): void {
  const status =
    error instanceof ConclaveError && typeof (error as { status?: unknown }).status === "number"
      ? (error as unknown as { status: number }).status
      : 500;
  const body =
    error instanceof ConclaveError
      ? { code: error.code, message: error.message }
      : { code: "E_INTERNAL", message: "the gateway failed; see its log" };
  if (response.headersSent) {
    response.end();
    return;
  }
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (error instanceof RateLimitedError) headers["retry-after"] = String(error.retryAfterSeconds);
  if (status === 401) headers["www-authenticate"] = 'Bearer realm="conclave"';
  // A refused body may still be streaming in: close the connection rather than read it.
  if (status === 413) headers["connection"] = "close";
  response.writeHead(status, headers).end(JSON.stringify({ error: body }));
}

/** A PEM file of `gateway.tls`; one that cannot be read is a ConfigError naming the field and the file. */
export async function readPem(file: string, field: "cert" | "key" | "ca"): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (cause) {
    throw new ConfigError(
      `cannot read gateway.tls.${field} (${file}): ${(cause as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(cause)}; check the path, relative to the swarm file`,
      [],
      { cause },
    );
  }
}
