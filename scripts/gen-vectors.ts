/**
 * Writes test/vectors/envelope-signature.json: fixed inputs and the exact
 * canonical text, key encodings and Ed25519 signature they must produce, for
 * implementers in other languages and as a regression guard here. Everything
 * is derived from constants (Ed25519 is deterministic), so running it again
 * gives the same file byte for byte.
 *
 * It also rewrites the values shown between the `vectors:start` and
 * `vectors:end` markers of docs/PROTOCOL.md, so the document cannot drift.
 *
 *   npx tsx scripts/gen-vectors.ts           # write both
 *   npx tsx scripts/gen-vectors.ts --check   # exit 1 if either is stale
 */
import { readFileSync, writeFileSync } from "node:fs";
import { ManualClock } from "../src/core/clock.js";
import { seededRandom } from "../src/core/random.js";
import { agentKeyPairFromSeed, encodePublicKey, fingerprint } from "../src/identity/keys.js";
import { canonicalize } from "../src/wire/canonical.js";
import type { Envelope } from "../src/wire/envelope.js";
import { signEnvelope, signingBytes } from "../src/wire/signature.js";
import { createUlidFactory } from "../src/wire/ulid.js";

const OUTPUT = new URL("../test/vectors/envelope-signature.json", import.meta.url);
const PROTOCOL = new URL("../docs/PROTOCOL.md", import.meta.url);
const START = "<!-- vectors:start -->";
const END = "<!-- vectors:end -->";

/** Bytes 0x00..0x1f: obviously not a real key, trivially typed in any language. */
const SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
const TS = 1_732_200_000_000;

/** JSON texts whose canonical form other implementations must reproduce exactly. */
const JCS_CASES: readonly { name: string; input: string }[] = [
  {
    name: "RFC 8785 section 3.2.2 example",
    input:
      '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n  "literals": [null, true, false]\n}',
  },
  {
    name: "RFC 8785 section 3.2.3 sorting: by UTF-16 code units, not code points",
    input:
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
  },
  {
    name: "numbers: ECMAScript formatting of IEEE 754 doubles",
    input:
      "[0, -0, 1, 1.0, 100, 1e21, 1E+21, 1e20, 0.000001, 1e-7, 0.1, 1.5e300, 5e-324, 1.7976931348623157e308, 9007199254740991, 9007199254740993, -3.5, 123456789012345678901234567890]",
  },
  {
    name: "string escaping: only quote, backslash and C0 controls; everything else literal",
    input: '"\\u0000\\u001f\\b\\f\\n\\r\\t\\"\\\\\\/\\u007f\\u00e9\\u20ac\\ud83d\\ude00"',
  },
  {
    name: "whitespace removed, nested and empty containers",
    input: ' { "b" : [ ] , "a" : { "d" : { } , "c" : [ { } , [ ] ] } , "e" : "" } ',
  },
];

/** Envelopes every implementation must refuse, and the error code the reference gives. */
const INVALID_CASES: readonly { name: string; json: string; code: string }[] = [
  {
    name: "unknown top-level field",
    json: '{"id":"01JD0000000000000000000000","type":"event.ping","from":"a","ts":1,"body":null,"extra":1}',
    code: "E_INVALID_ENVELOPE",
  },
  {
    name: "body missing (null is the empty body)",
    json: '{"id":"01JD0000000000000000000000","type":"event.ping","from":"a","ts":1}',
    code: "E_INVALID_ENVELOPE",
  },
  {
    name: "lower-case ULID",
    json: '{"id":"01jd0000000000000000000000","type":"event.ping","from":"a","ts":1,"body":null}',
    code: "E_INVALID_ENVELOPE",
  },
  {
    name: "seq without conv",
    json: '{"id":"01JD0000000000000000000000","type":"event.ping","from":"a","ts":1,"seq":0,"body":null}',
    code: "E_INVALID_ENVELOPE",
  },
  {
    name: "upper-case type",
    json: '{"id":"01JD0000000000000000000000","type":"Event.Ping","from":"a","ts":1,"body":null}',
    code: "E_INVALID_ENVELOPE",
  },
  {
    name: "fractional ts",
    json: '{"id":"01JD0000000000000000000000","type":"event.ping","from":"a","ts":1.5,"body":null}',
    code: "E_INVALID_ENVELOPE",
  },
  {
    name: "number outside the double range (parses as Infinity)",
    json: '{"id":"01JD0000000000000000000000","type":"event.ping","from":"a","ts":1,"body":1e400}',
    code: "E_INVALID_ENVELOPE",
  },
  {
    name: "a key repeated in one object (body given twice)",
    json: '{"id":"01JD0000000000000000000000","type":"event.ping","from":"a","ts":1,"body":1,"body":2}',
    code: "E_INVALID_ENVELOPE",
  },
  {
    name: "a key repeated inside the body, spelled with an escape",
    json: '{"id":"01JD0000000000000000000000","type":"event.ping","from":"a","ts":1,"body":{"key":1,"k\\u0065y":2}}',
    code: "E_INVALID_ENVELOPE",
  },
  {
    name: "unpaired surrogate in a string",
    json: '{"id":"01JD0000000000000000000000","type":"event.ping","from":"a","ts":1,"body":"\\ud800"}',
    code: "E_INVALID_ENVELOPE",
  },
];

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** The vector document, built only from the constants above. */
function buildVectors() {
  const keys = agentKeyPairFromSeed(SEED);
  const id = createUlidFactory(new ManualClock(TS), seededRandom(8785))();
  const envelope: Envelope = {
    id,
    type: "task.code_review",
    from: "lead-1",
    to: "reviewer-2",
    ts: TS,
    deadline: TS + 60_000,
    corr: "req-7f3a9c",
    cause: "01JD0000000000000000000000",
    conv: "pr-42",
    seq: 3,
    attempt: 1,
    headers: {
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      tracestate: "congo=t61rcWkgMzE",
    },
    body: {
      task: "review",
      files: [{ path: "src/wire/codec.ts", lines: [1, 20] }],
      note: 'Grüße, 世界 😀 "quoted" \\ tab\t newline\n bell\u0007',
      numbers: {
        big: 1e21,
        small: 1e-7,
        micro: 0.000001,
        tenth: 0.1,
        third: 1 / 3,
        int: 42,
        negative: -3.5,
        maxSafe: 9007199254740991,
      },
      keys: {
        b: 1,
        a: 2,
        "\u00e9": 3,
        "\u20ac": 4,
        "\ud83d\ude00": 5,
        "\r": 6,
        "1": 7,
        "\ufb33": 8,
      },
      flags: [true, false, null],
      empty: { object: {}, array: [], string: "" },
    },
  };
  const signed = signEnvelope(envelope, keys.privateKey);
  const tampered = { ...signed, body: { ...(signed.body as object), task: "approve" } };
  return {
    description:
      "conclave wire test vectors. canonical = RFC 8785 JCS of envelope (which has no sig); signature = Ed25519 over the UTF-8 bytes of canonical, base64url without padding; signedEnvelope = envelope plus sig. See docs/PROTOCOL.md.",
    privateKeySeed: hex(SEED),
    publicKey: encodePublicKey(keys.publicKey),
    publicKeyFingerprint: fingerprint(keys.publicKey),
    envelope,
    canonical: canonicalize(envelope),
    canonicalHex: hex(signingBytes(envelope)),
    signature: signed.sig,
    signedEnvelope: signed,
    tamperedEnvelope: {
      note: "signedEnvelope with body.task changed; verification must fail",
      envelope: tampered,
    },
    jcs: JCS_CASES.map((c) => {
      const canonical = canonicalize(JSON.parse(c.input));
      return { ...c, canonical, canonicalHex: hex(Buffer.from(canonical, "utf8")) };
    }),
    invalidEnvelopes: INVALID_CASES,
  };
}

/** JSON with every non-ASCII character escaped: the same value, but safe to copy from a web page. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The Markdown shown between the markers of docs/PROTOCOL.md. */
function protocolSection(v: ReturnType<typeof buildVectors>): string {
  const jcs = v.jcs
    .map(
      (c) =>
        `${c.name}:\n\n\`\`\`text\n${c.input.trim()}\n\`\`\`\n\nbecomes\n\n\`\`\`text\n${c.canonical}\n\`\`\``,
    )
    .join("\n\n");
  return [
    START,
    "<!-- Written by scripts/gen-vectors.ts; edit that script, not this section. -->",
    "",
    `- \`privateKeySeed\` (hex): \`${v.privateKeySeed}\``,
    `- \`publicKey\`: \`${v.publicKey}\``,
    `- \`publicKeyFingerprint\`: \`${v.publicKeyFingerprint}\``,
    `- \`signature\`: \`${v.signature}\``,
    "",
    "`envelope` (non-ASCII characters escaped here; the value is the same):",
    "",
    "```json",
    asciiJson(v.envelope),
    "```",
    "",
    "`canonical`, the text whose UTF-8 bytes are signed:",
    "",
    "```text",
    v.canonical,
    "```",
    "",
    "`jcs` cases:",
    "",
    jcs,
    END,
  ].join("\n");
}

function replaceSection(doc: string, section: string): string {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start)
    throw new Error(`docs/PROTOCOL.md lacks the ${START} ... ${END} markers`);
  return doc.slice(0, start) + section + doc.slice(end + END.length);
}

function readOrEmpty(url: URL): string {
  try {
    return readFileSync(url, "utf8");
  } catch {
    return "";
  }
}

function main(): void {
  const vectors = buildVectors();
  const json = `${JSON.stringify(vectors, null, 2)}\n`;
  const doc = replaceSection(readOrEmpty(PROTOCOL), protocolSection(vectors));
  if (process.argv.includes("--check")) {
    const stale = [
      readOrEmpty(OUTPUT) === json ? undefined : OUTPUT.pathname,
      readOrEmpty(PROTOCOL) === doc ? undefined : PROTOCOL.pathname,
    ].filter((path) => path !== undefined);
    if (stale.length > 0) {
      console.error(`stale: ${stale.join(", ")}; run npx tsx scripts/gen-vectors.ts`);
      process.exit(1);
    }
    console.log("test vectors and docs/PROTOCOL.md are up to date");
    return;
  }
  writeFileSync(OUTPUT, json);
  writeFileSync(PROTOCOL, doc);
  console.log(`wrote ${OUTPUT.pathname} and the vectors section of ${PROTOCOL.pathname}`);
}

main();
