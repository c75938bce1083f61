/**
 * test/vectors/ed25519-strict.json: signatures a conclave node refuses
 * although RFC 8032's cofactorless check (OpenSSL, Go) accepts some of them
 * (docs/PROTOCOL.md, Signatures > Verifying). Each implementation conclave
 * may run with (node:crypto with its added checks, sodium-native when it
 * loads) gives `valid`; node:crypto's own verify gives `openssl`, which shows
 * why the checks are needed.
 */
import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { nodeCryptoEd25519, sodiumEd25519 } from "../../src/wire/ed25519.js";

interface StrictCase {
  name: string;
  publicKey: string;
  message: string;
  signature: string;
  valid: boolean;
  openssl: boolean;
}

const { cases } = JSON.parse(
  readFileSync(new URL("./ed25519-strict.json", import.meta.url), "utf8"),
) as { cases: StrictCase[] };

const implementations = [nodeCryptoEd25519, sodiumEd25519()].filter((i) => i !== undefined);

for (const c of cases) {
  test(`ed25519-strict.json: ${c.name}`, () => {
    const key = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: c.publicKey },
      format: "jwk",
    });
    const message = Buffer.from(c.message, "hex");
    const signature = Buffer.from(c.signature, "base64url");
    for (const implementation of implementations) {
      assert.equal(implementation.verify(message, signature, key), c.valid, implementation.name);
    }
    assert.equal(
      verify(null, message, key, signature),
      c.openssl,
      "node:crypto without conclave's checks",
    );
  });
}
