/**
 * Signature checks on the worker thread (src/wire/verify-thread.ts): the
 * same answers as in the caller's thread, for the published vectors and for
 * forgeries, in batches larger than one message, when the thread is stopped
 * with checks pending, and without keeping the process alive.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { ConfigError, SignatureError } from "../../src/errors/index.js";
import { agentKeyPairFromSeed, generateAgentKeyPair } from "../../src/identity/keys.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/wire/codec.js";
import { ed25519 } from "../../src/wire/ed25519.js";
import type { Envelope } from "../../src/wire/envelope.js";
import { signEnvelope, verifyEnvelope, verifyEnvelopeOffThread } from "../../src/wire/signature.js";
import {
  stopVerifyThread,
  verifyOffThread,
  verifyThreadRunning,
  verifyThreadWanted,
} from "../../src/wire/verify-thread.js";
import { fullEnvelope } from "./fixtures.js";

const vectors = JSON.parse(
  readFileSync(new URL("../vectors/envelope-signature.json", import.meta.url), "utf8"),
) as { privateKeySeed: string; canonical: string; signature: string };

// The thread runs sodium-native: with node:crypto chosen, checks stay in this thread.
const withSodium = ed25519().name === "sodium-native";

describe("CONCLAVE_VERIFY_THREAD", () => {
  test("on and off force it; unset means on with more than one CPU", () => {
    assert.equal(verifyThreadWanted("off", 8), false);
    assert.equal(verifyThreadWanted(" ON ", 1), true);
    assert.equal(verifyThreadWanted(undefined, 1), false);
    assert.equal(verifyThreadWanted("", 2), true);
  });

  test("anything else is a ConfigError naming the choices", () => {
    assert.throws(
      () => verifyThreadWanted("yes", 2),
      (e: unknown) => e instanceof ConfigError && /"on".*"off"/.test(e.message),
    );
  });
});

describe("checks on the worker thread", () => {
  const saved = process.env.CONCLAVE_VERIFY_THREAD;
  const pair = agentKeyPairFromSeed(Buffer.from(vectors.privateKeySeed, "hex"));
  const other = generateAgentKeyPair();

  before(async () => {
    process.env.CONCLAVE_VERIFY_THREAD = "on";
    await stopVerifyThread();
  });
  after(async () => {
    await stopVerifyThread();
    if (saved === undefined) delete process.env.CONCLAVE_VERIFY_THREAD;
    else process.env.CONCLAVE_VERIFY_THREAD = saved;
  });

  test("the published vector verifies; another text, key or signature does not", async () => {
    const { canonical, signature } = vectors;
    assert.equal(await verifyOffThread(canonical, signature, pair.publicKey), true);
    assert.equal(verifyThreadRunning(), withSodium, "the thread runs wherever sodium-native loads");
    assert.equal(await verifyOffThread(`${canonical} `, signature, pair.publicKey), false);
    assert.equal(await verifyOffThread(canonical, signature, other.publicKey), false);
    const flipped = `${signature.slice(0, 10)}${signature[10] === "A" ? "B" : "A"}${signature.slice(11)}`;
    assert.equal(await verifyOffThread(canonical, flipped, pair.publicKey), false);
    assert.equal(await verifyOffThread(canonical, signature.slice(0, 40), pair.publicKey), false);
  });

  test("more checks than one message carries, valid and forged mixed, each answered right", async () => {
    const signed = Array.from({ length: 1_300 }, (_, i) =>
      signEnvelope({ ...fullEnvelope(), seq: i }, pair.privateKey),
    );
    const answers = await Promise.all(
      signed.map((env, i) => {
        const copy = decodeEnvelope(encodeEnvelope(env)); // fresh: nothing remembered
        const text = JSON.stringify({ seq: i });
        return i % 3 === 0
          ? verifyOffThread(text, copy.sig as string, pair.publicKey)
          : Promise.resolve(verifyEnvelopeOffThread(copy, pair.publicKey)).then(() => true);
      }),
    );
    for (const [i, ok] of answers.entries()) assert.equal(ok, i % 3 !== 0, `check ${i}`);
  });

  test("a tampered envelope is refused with the SignatureError verifyEnvelope gives", async () => {
    const signed = signEnvelope(fullEnvelope(), pair.privateKey);
    const tampered = decodeEnvelope(encodeEnvelope({ ...signed, body: { changed: true } }));
    let sync: unknown;
    try {
      verifyEnvelope(tampered, pair.publicKey);
    } catch (error) {
      sync = error;
    }
    assert.ok(sync instanceof SignatureError);
    const copy = decodeEnvelope(encodeEnvelope(tampered));
    await assert.rejects(
      async () => verifyEnvelopeOffThread(copy, pair.publicKey),
      (e: unknown) => e instanceof SignatureError && e.message === (sync as Error).message,
    );
  });

  test("a malformed signature is refused at once, before any thread", () => {
    const env = { ...signEnvelope(fullEnvelope(), pair.privateKey), sig: "short" } as Envelope;
    assert.throws(() => verifyEnvelopeOffThread(env, pair.publicKey), SignatureError);
  });

  test("an envelope verified once is answered from memory the next time", async () => {
    const copy = decodeEnvelope(encodeEnvelope(signEnvelope(fullEnvelope(), pair.privateKey)));
    await verifyEnvelopeOffThread(copy, pair.publicKey);
    assert.equal(verifyEnvelopeOffThread(copy, pair.publicKey), undefined);
  });

  test("checks pending when the thread stops are answered all the same", async () => {
    const env = signEnvelope(fullEnvelope(), pair.privateKey);
    const text = JSON.stringify(env); // any text: what matters is that the answer comes
    const pending = [
      verifyOffThread(vectors.canonical, vectors.signature, pair.publicKey),
      verifyOffThread(text, env.sig as string, pair.publicKey),
    ];
    await stopVerifyThread();
    assert.deepEqual(await Promise.all(pending), [true, false]);
    // And the next check starts a thread again.
    assert.equal(await verifyOffThread(vectors.canonical, vectors.signature, pair.publicKey), true);
  });

  test("the thread does not keep a process alive once its checks are answered", () => {
    const source = JSON.stringify(new URL("../../src/wire/verify-thread.ts", import.meta.url).href);
    const keys = JSON.stringify(new URL("../../src/identity/keys.ts", import.meta.url).href);
    const script = `
      import { verifyOffThread, verifyThreadRunning } from ${source};
      import { agentKeyPairFromSeed } from ${keys};
      const pair = agentKeyPairFromSeed(Buffer.from(${JSON.stringify(vectors.privateKeySeed)}, "hex"));
      const ok = await verifyOffThread(${JSON.stringify(vectors.canonical)}, ${JSON.stringify(vectors.signature)}, pair.publicKey);
      process.stdout.write(JSON.stringify({ ok, thread: verifyThreadRunning() }));
    `;
    const out = execFileSync(
      process.execPath,
      ["--import", import.meta.resolve("tsx"), "--input-type=module", "-e", script],
      { env: { ...process.env, CONCLAVE_VERIFY_THREAD: "on" }, encoding: "utf8", timeout: 30_000 },
    );
    assert.deepEqual(JSON.parse(out), { ok: true, thread: withSodium });
  });
});
