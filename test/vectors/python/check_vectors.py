#!/usr/bin/env python3
"""An independent client's check of conclave's test vectors.

Written from docs/PROTOCOL.md alone, as the author of a client in another
language would: no TypeScript was read to write it. It reproduces every
vector the document shows or points to (test/vectors/envelope-signature.json,
test/vectors/consensus.json) and runs the Python snippets the document
offers, exactly as printed. Standard library only (Ed25519 is implemented
below from RFC 8032), Python 3.8 or later.

    python3 test/vectors/python/check_vectors.py [--verbose]

Prints one line per failed check and a summary; exits 1 if anything failed.
Each part names the PROTOCOL.md section it follows.
"""

import base64
import hashlib
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOC_PATH = ROOT / "docs" / "PROTOCOL.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
ENV_VECTORS = json.loads((ROOT / "test/vectors/envelope-signature.json").read_text("utf-8"))
CONSENSUS = json.loads((ROOT / "test/vectors/consensus.json").read_text("utf-8"))
VERBOSE = "--verbose" in sys.argv

passed, failed = 0, []


def check(name, ok, detail=""):
    """Records one check; `ok` may be a bool or a zero-argument callable."""
    global passed
    try:
        result = ok() if callable(ok) else ok
    except Exception as error:  # a snippet that crashes is a failure too
        result, detail = False, f"{type(error).__name__}: {error}"
    if result:
        passed += 1
        if VERBOSE:
            print(f"ok   {name}")
    else:
        failed.append(name)
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))


# ---------------------------------------------------------------------------
# Reading the document: its fenced code blocks and generated sections.
# ---------------------------------------------------------------------------


def doc_section(heading):
    """The text under a Markdown heading, up to the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    lines, out, in_code = DOC.split("\n"), None, False
    for line in lines:
        if out is None:
            out = [] if line == heading else None
            continue
        in_code ^= line.startswith("```")
        if not in_code and re.match(r"#{1,%d} " % level, line):
            break
        out.append(line)
    return "\n".join(out) + "\n"


def fenced(text, lang):
    """The fenced code blocks of `text` in language `lang`, in order."""
    return re.findall(r"^```" + lang + r"\n(.*?)^```", text, re.S | re.M)


def between(start, end):
    return DOC[DOC.index(start) + len(start) : DOC.index(end)]


# ---------------------------------------------------------------------------
# "Canonical JSON (RFC 8785)" > "Reference code": run exactly as printed.
# ---------------------------------------------------------------------------

REFERENCE = {}
exec(fenced(doc_section("### Reference code (Python, standard library only)"), "python")[0], REFERENCE)
canonicalize = REFERENCE["canonicalize"]
jcs_number = REFERENCE["jcs_number"]


def canonical_bytes(value):
    return canonicalize(value).encode("utf-8")  # rule 7: UTF-8


# ---------------------------------------------------------------------------
# "Keys": base64url without padding (RFC 4648 section 5).
# ---------------------------------------------------------------------------


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(public_key):
    return "SHA256:" + b64u(hashlib.sha256(public_key).digest())


# ---------------------------------------------------------------------------
# "Keys", "Signing", "Verifying": Ed25519 (RFC 8032, section 5.1), pure
# Ed25519 without pre-hash or context, verified with the stricter rules the
# document asks for (S < L; R and the key not of small order; key y < p).
# ---------------------------------------------------------------------------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):  # extended coordinates (X, Y, Z, T), RFC 8032 section 5.1.4
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    cc, dd = 2 * t1 * t2 * D % P, 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(scalar, point):
    result = (0, 1, 1, 0)  # the identity
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point, scalar = _add(point, point), scalar >> 1
    return result


def _encode(point):
    x, y, z, _ = point
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _decode(data):
    """The point, or None when `data` is not a canonical encoding of one."""
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= P:  # "the public key's y is not below 2^255 - 19"
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P or (x == 0 and sign):
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def _small_order(point):
    x, y, z, _ = _mul(8, point)
    return x % P == 0 and (y - z) % P == 0


_GY = 4 * pow(5, P - 2, P) % P
BASE = _decode(int.to_bytes(_GY, 32, "little"))


def _h(*parts):
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


def ed25519_secret(seed):
    digest = hashlib.sha512(seed).digest()
    a = int.from_bytes(digest[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, digest[32:]


def ed25519_public_key(seed):
    return _encode(_mul(ed25519_secret(seed)[0], BASE))


def ed25519_sign(seed, message):
    a, prefix = ed25519_secret(seed)
    public = _encode(_mul(a, BASE))
    r = _h(prefix, message) % L
    big_r = _encode(_mul(r, BASE))
    s = (r + _h(big_r, public, message) % L * a) % L
    return big_r + int.to_bytes(s, 32, "little")


def ed25519_verify(public_key, message, signature):
    if len(signature) != 64:
        return False
    a, r = _decode(public_key), _decode(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L or _small_order(a) or _small_order(r):
        return False
    k = _h(signature[:32], public_key, message) % L
    neg_a = ((P - a[0]) % P, a[1], a[2], (P - a[3]) % P)
    return _encode(_add(_mul(s, BASE), _mul(k, neg_a))) == signature[:32]


# ---------------------------------------------------------------------------
# "Envelope", "Body", "ULIDs", "Receiving": a strict decoder and the schema.
# ---------------------------------------------------------------------------

ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
TYPE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
AGENT = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
REFERENCE_ID = re.compile(r"^[\x20-\x7e]{1,128}$")
HEADER_NAME = re.compile(r"^[a-z0-9-]{1,128}$")
HEADER_VALUE = re.compile(r"^[\x20-\x7e]{0,8192}$")
SIG = re.compile(r"^[A-Za-z0-9_-]{85}[AQgw]$")
MAX_SAFE = 2**53 - 1
FIELDS = {"id", "type", "from", "to", "ts", "deadline", "corr", "cause", "conv", "seq", "attempt", "headers", "body", "sig"}


class Invalid(Exception):
    """E_INVALID_ENVELOPE."""


def _no_repeats(pairs):  # step 5: a key twice in one object, after unescaping
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise Invalid(f"the key {key!r} appears twice")
        seen[key] = value
    return seen


def _no_constant(name):  # NaN, Infinity: not JSON
    raise Invalid(f"{name} is not JSON")


def _check_value(value, depth):
    """"Body": finite numbers, valid Unicode, at most 256 levels (the envelope is level 1)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid("a number overflows a double")
    if isinstance(value, str):
        value.encode("utf-8")  # an unpaired surrogate raises UnicodeEncodeError
    if isinstance(value, (list, dict)):
        if depth > 256:
            raise Invalid("nested deeper than 256")
        for key in value if isinstance(value, dict) else ():
            key.encode("utf-8")
        for item in value.values() if isinstance(value, dict) else value:
            _check_value(item, depth + 1)


def _is_int(value, low):
    return (
        isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and value.is_integer()
    ) and low <= value <= MAX_SAFE


def check_schema(env):
    """Step 4, the table of "Envelope"; raises Invalid naming the field."""
    if not isinstance(env, dict):
        raise Invalid("not an object")
    for field in env:
        if field not in FIELDS:
            raise Invalid(f"{field}: not an envelope field")
    for field in ("id", "type", "from", "ts", "body"):
        if field not in env:
            raise Invalid(f"{field}: required")
    rules = {
        "id": lambda v: isinstance(v, str) and ULID.match(v),
        "type": lambda v: isinstance(v, str) and len(v) <= 256 and TYPE.match(v),
        "from": lambda v: isinstance(v, str) and AGENT.match(v),
        "to": lambda v: isinstance(v, str) and AGENT.match(v),
        "ts": lambda v: _is_int(v, 0),
        "deadline": lambda v: _is_int(v, 0),
        "corr": lambda v: isinstance(v, str) and REFERENCE_ID.match(v),
        "cause": lambda v: isinstance(v, str) and REFERENCE_ID.match(v),
        "conv": lambda v: isinstance(v, str) and REFERENCE_ID.match(v),
        "seq": lambda v: _is_int(v, 0),
        "attempt": lambda v: _is_int(v, 1),
        "headers": lambda v: isinstance(v, dict)
        and all(HEADER_NAME.match(k) and isinstance(x, str) and HEADER_VALUE.match(x) for k, x in v.items()),
        "sig": lambda v: isinstance(v, str) and SIG.match(v),
        "body": lambda v: True,
    }
    for field, value in env.items():
        if not rules[field](value):  # also "to": null and every other null
            raise Invalid(f"{field}: invalid")
    if ("conv" in env) != ("seq" in env):
        raise Invalid("conv and seq go together")
    _check_value(env, 1)


def decode_envelope(data: bytes):
    """"Receiving", steps 2 to 5 (no size limit or signature here)."""
    try:
        if data.startswith(b"\xef\xbb\xbf"):
            raise Invalid("byte order mark")
        text = data.decode("utf-8")  # strict: malformed UTF-8 raises
        value = json.loads(text, object_pairs_hook=_no_repeats, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise Invalid(str(error)) from error
    try:
        check_schema(value)
    except UnicodeEncodeError as error:
        raise Invalid("unpaired surrogate") from error
    return value


def signing_bytes(env):
    """"Signing", steps 1 and 2: every field but sig, canonical, UTF-8."""
    return canonical_bytes({k: v for k, v in env.items() if k != "sig"})


def verify_envelope(env, public_key):
    """"Verifying", steps 1, 3 and 4 (the caller looked the key up)."""
    sig = env.get("sig")
    if not isinstance(sig, str) or not SIG.match(sig):
        return False
    return ed25519_verify(public_key, signing_bytes(env), unb64u(sig))


def valid(env):
    try:
        check_schema(env)
        return True
    except Invalid:
        return False


# ===========================================================================
# The checks.
# ===========================================================================

# --- "Canonical JSON" > "Numbers": every example of the table and the prose.
NUMBER_EXAMPLES = {
    100.0: "100",
    1e20: "100000000000000000000",
    4.5: "4.5",
    333333333.3333333: "333333333.3333333",
    0.002: "0.002",
    0.000001: "0.000001",
    1e21: "1e+21",
    1e-7: "1e-7",
    1.5e300: "1.5e+300",
    5e-324: "5e-324",
    1e30: "1e+30",
    float(9007199254740993): "9007199254740992",
    -0.0: "0",
}
for number, text in NUMBER_EXAMPLES.items():
    check(f"Numbers: {number!r} is written {text}", lambda n=number, t=text: jcs_number(n) == t, jcs_number(number))

# --- "Canonical JSON": the UTF-16 order example ("😀" sorts before "דּ").
check(
    "Canonical JSON: U+1F600 sorts before U+FB33",
    canonicalize({"\ufb33": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ufb33":1}',
)

# --- "Test vectors": the jcs cases (JSON text in, canonical bytes out).
for case in ENV_VECTORS["jcs"]:
    parsed = json.loads(case["input"], object_pairs_hook=_no_repeats)
    got = canonical_bytes(parsed)
    check(f"jcs: {case['name']}: canonicalHex", got.hex() == case["canonicalHex"], got.decode("utf-8", "replace"))
    check(f"jcs: {case['name']}: canonical", case["canonical"].encode("utf-8") == got)

# --- "Keys": the seed gives the public key and its fingerprint.
seed = bytes.fromhex(ENV_VECTORS["privateKeySeed"])
public = ed25519_public_key(seed)
check("Keys: publicKey from privateKeySeed", b64u(public) == ENV_VECTORS["publicKey"], b64u(public))
check("Keys: publicKey is 43 characters", len(ENV_VECTORS["publicKey"]) == 43)
check("Keys: fingerprint", fingerprint(public) == ENV_VECTORS["publicKeyFingerprint"], fingerprint(public))
check("Keys: fingerprint is 50 characters", len(ENV_VECTORS["publicKeyFingerprint"]) == 50)
go_example = re.search(r'publicKey := .*// "([A-Za-z0-9_-]{43})"', DOC)
check("Signatures (Go): the key printed for seed 00..1f", go_example and go_example.group(1) == b64u(public))
check(
    "Signatures (Go): the seed printed is the vectors' seed",
    "hex.DecodeString(\"%s\")" % ENV_VECTORS["privateKeySeed"] in DOC,
)

# --- "Envelope": the vector envelope, the examples, the signing bytes.
envelope = ENV_VECTORS["envelope"]
check("Envelope: the vector envelope is valid", valid(envelope))
check("Envelope: the vector envelope has no sig", "sig" not in envelope)
check("Signing: canonical", canonicalize(envelope) == ENV_VECTORS["canonical"])
check("Signing: canonicalHex", signing_bytes(envelope).hex() == ENV_VECTORS["canonicalHex"])
signature = ed25519_sign(seed, signing_bytes(envelope))
check("Signing: signature (deterministic)", b64u(signature) == ENV_VECTORS["signature"], b64u(signature))
check("Signing: signature is 86 characters", SIG.match(ENV_VECTORS["signature"]) is not None)
check("Signing: signedEnvelope is envelope plus sig", ENV_VECTORS["signedEnvelope"] == {**envelope, "sig": b64u(signature)})
signed_bytes = json.dumps(ENV_VECTORS["signedEnvelope"], ensure_ascii=False).encode("utf-8")
check("Verifying: signedEnvelope verifies", verify_envelope(decode_envelope(signed_bytes), public))
tampered = ENV_VECTORS["tamperedEnvelope"]["envelope"]
check("Verifying: tamperedEnvelope is valid but fails", valid(tampered) and not verify_envelope(tampered, public))
check(
    "Verifying: tamperedEnvelope differs only in body.task",
    {**tampered, "body": {**tampered["body"], "task": None}}
    == {**ENV_VECTORS["signedEnvelope"], "body": {**envelope["body"], "task": None}},
)
# Key order on the wire does not matter: the signature covers the canonical form.
reordered = dict(reversed(list(ENV_VECTORS["signedEnvelope"].items())))
check("Signing: any key order verifies", verify_envelope(decode_envelope(json.dumps(reordered).encode()), public))
# Verifying's stricter rules: a small-order key, a non-canonical S.
identity_key = bytes([1]) + bytes(31)
check("Verifying: a small-order public key is refused", not ed25519_verify(identity_key, b"", bytes([1]) + bytes(63)))
high_s = signature[:32] + int.to_bytes(int.from_bytes(signature[32:], "little") + L, 32, "little")
check("Verifying: S + L is refused", not ed25519_verify(public, signing_bytes(envelope), high_s))

# --- test/vectors/ed25519-strict.json: what "Verifying" refuses although RFC 8032 alone accepts some.
for case in json.loads((ROOT / "test/vectors/ed25519-strict.json").read_text("utf-8"))["cases"]:
    verdict = ed25519_verify(unb64u(case["publicKey"]), bytes.fromhex(case["message"]), unb64u(case["signature"]))
    check(f"ed25519-strict: {case['name'][:60]}", verdict == case["valid"], f"got {verdict}")

# --- "Envelope" > "Example": both examples pass the receiver's checks.
for i, block in enumerate(fenced(doc_section("### Example"), "json")):
    check(f"Envelope > Example {i + 1} is valid", lambda b=block: decode_envelope(b.encode()) is not None)

# --- "Receiving": every invalid envelope is refused with its code.
for case in ENV_VECTORS["invalidEnvelopes"]:
    try:
        decode_envelope(case["json"].encode("utf-8"))
        outcome = "accepted"
    except Invalid:
        outcome = "E_INVALID_ENVELOPE"
    check(f"invalidEnvelopes: {case['name']}", outcome == case["code"], outcome)

# --- "Test vectors": what the generated section of PROTOCOL.md shows equals the file.
shown = between("<!-- vectors:start -->", "<!-- vectors:end -->")
for field in ("privateKeySeed", "publicKey", "publicKeyFingerprint", "signature"):
    check(f"PROTOCOL.md shows {field}", f"`{ENV_VECTORS[field]}`" in shown)
shown_json = fenced(shown, "json")
check("PROTOCOL.md shows the envelope", shown_json and json.loads(shown_json[0]) == envelope)
shown_text = fenced(shown, "text")
check("PROTOCOL.md shows the canonical text", shown_text and shown_text[0].rstrip("\n") == ENV_VECTORS["canonical"])
pairs = shown_text[1:]
check("PROTOCOL.md shows every jcs case", len(pairs) == 2 * len(ENV_VECTORS["jcs"]))
for case, (shown_input, shown_canonical) in zip(ENV_VECTORS["jcs"], zip(pairs[::2], pairs[1::2])):
    check(f"PROTOCOL.md shows jcs input: {case['name']}", shown_input.rstrip("\n") == case["input"].strip())
    check(f"PROTOCOL.md shows jcs result: {case['name']}", shown_canonical.rstrip("\n") == case["canonical"])

# --- "Signatures": the document's Python (cryptography) functions, when installed.
try:
    import cryptography  # noqa: F401

    snippet = {"canonicalize": canonicalize}
    exec(fenced(doc_section("### Verifying"), "python")[0], snippet)
    made = snippet["sign_envelope"](envelope, seed)
    check("Signatures (Python snippet): sign_envelope", made.get("sig") == ENV_VECTORS["signature"])
    check("Signatures (Python snippet): verify_envelope", lambda: snippet["verify_envelope"](made, b64u(public)) is None)
except ImportError:
    print("note: the 'cryptography' package is missing; the document's cryptography snippets were not run")

# --- "Subjects": a signed agent card (consensus.json `card`).
keys = {name: bytes.fromhex(k["privateKeySeed"]) for name, k in CONSENSUS["keys"].items()}
publics = {name: ed25519_public_key(s) for name, s in keys.items()}
for name, k in CONSENSUS["keys"].items():
    check(f"consensus keys: {name} public key", b64u(publics[name]) == k["publicKey"])
card = CONSENSUS["card"]["signed"]
unsigned_card = {k: v for k, v in card.items() if k != "sig"}
card_text = canonicalize({"card": unsigned_card, "type": "registry.card"})
check("Subjects (cards): signing text", card_text == CONSENSUS["card"]["signingText"])
check("Subjects (cards): signature verifies with the card's key", ed25519_verify(unb64u(card["publicKey"]), card_text.encode(), unb64u(card["sig"])))
check("Subjects (cards): signature is deterministic", b64u(ed25519_sign(keys["lead"], card_text.encode())) == card["sig"])
example = {"id": "dev-1", "role": "dev", "tags": [], "capabilities": ["code"], "weight": 1, "publicKey": "<key>", "node": "n1"}
check(
    "Subjects (cards): the dev-1 example's signing text",
    f"`{canonicalize({'card': example, 'type': 'registry.card'})}`" in doc_section("## Subjects"),
)

# --- "Consensus" > "Casting a vote": proposalHash, the two signed votes.
proposal = CONSENSUS["proposal"]
check("Casting a vote: proposal canonical", canonicalize(proposal) == CONSENSUS["proposalCanonical"])
proposal_hash = hashlib.sha256(canonical_bytes(proposal)).hexdigest()
check("Casting a vote: proposalHash", proposal_hash == CONSENSUS["proposalHash"], proposal_hash)
voter_keys = {v["id"]: unb64u(v["publicKey"]) for v in proposal["rule"]["voters"]}
check("The proposal: voters sorted by id", [v["id"] for v in proposal["rule"]["voters"]] == sorted(voter_keys))
check("People as voters: alice is a human voter", any(v["id"] == "alice" and v["role"] == "human" for v in proposal["rule"]["voters"]))
for vote in CONSENSUS["votes"]:
    env = vote["envelope"]
    who = env["from"]
    body = env["body"]
    check(f"vote {who}: a valid envelope", valid(env))
    check(f"vote {who}: signing bytes", signing_bytes(env).hex() == vote["signingHex"])
    check(f"vote {who}: verifies with rule.voters' key", verify_envelope(env, voter_keys[who]))
    check(f"vote {who}: deterministic signature", b64u(ed25519_sign(keys[who], signing_bytes(env))) == env["sig"])
    check(
        f"vote {who}: type, corr and body as documented",
        env["type"] == "consensus.vote"
        and env["corr"] == proposal["id"]
        and body["proposal"] == proposal["id"]
        and body["proposalHash"] == proposal_hash
        and body["choice"] in ("approve", "reject", "abstain")
        and set(body) <= {"proposal", "proposalHash", "choice", "reason"},
    )

# The document's vote() function, run as printed (it needs the 'cryptography' package).
try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    vote_code = fenced(doc_section("### Casting a vote from another language"), "python")[0]
    namespace = {"canonicalize": canonicalize}
    exec(vote_code, namespace)
    key = Ed25519PrivateKey.from_private_bytes(keys["alice"])
    made = json.loads(namespace["vote"](proposal, "alice", key, "approve", lambda: "01JD7JMTG1000000000000000C"))
    check("Casting a vote (Python snippet): a valid envelope", valid(made))
    check("Casting a vote (Python snippet): verifies with alice's key", verify_envelope(made, voter_keys["alice"]))
    check("Casting a vote (Python snippet): names the proposal by its hash", made["body"]["proposalHash"] == proposal_hash)
except ImportError:
    print("note: the 'cryptography' package is missing; the document's vote() snippet was not run")

# --- "Counting: the quorum rule": recompute the tally and the outcome.
decision = CONSENSUS["decision"]
micro = {v["id"]: round(v["weight"] * 10**6) for v in proposal["rule"]["voters"]}
counted = {"approve": 0, "reject": 0, "abstain": 0}
for vote in decision["votes"]:
    counted[vote["body"]["choice"]] += micro[vote["from"]]
threshold = round(proposal["rule"]["threshold"]["weight"] * 10**6)
total = sum(micro.values())
tally = {**{k: v / 10**6 for k, v in counted.items()}, "threshold": threshold / 10**6, "total": total / 10**6}
check("Counting: tally", decision["tally"] == tally, json.dumps(tally))
check("Counting: approved", decision["outcome"] == ("approved" if counted["approve"] >= threshold else "?"))
check("Decisions: votes are the signed vote envelopes", decision["votes"] == [v["envelope"] for v in CONSENSUS["votes"]])
check("Decisions: decidedAt before deadline", decision["decidedAt"] < proposal["deadline"])

# --- "Decisions, seals and the audit log": the seal, by the prose and by the snippet.
sealed = {k: v for k, v in decision.items() if k != "seal"}
check("The seal: its input is every field but seal", canonicalize(sealed) == CONSENSUS["sealInput"])
seal = hashlib.sha256(canonicalize(sealed).encode()).hexdigest()
check("The seal: value", seal == decision["seal"] == CONSENSUS["seal"], seal)
check("The seal: first of a log", decision["prevSeal"] is None)
def _raises(kind, code, rows):
    try:
        exec(code, {"canonicalize": canonicalize, "hashlib": hashlib, "json": json, "rows": rows})
    except kind:
        return True
    return False


audit_code = fenced(doc_section("### Decisions, seals and the audit log"), "python")[0]
stored = CONSENSUS["sealSignature"]["storedDecision"]
rows = [(1, "consensus.decision", json.dumps(stored), None, seal)]
check("Audit log (Python snippet): the one-entry log verifies", lambda: exec(audit_code, {"canonicalize": canonicalize, "hashlib": hashlib, "json": json, "rows": rows}) is None)
forged = {**stored, "outcome": "rejected"}
check(
    "Audit log (Python snippet): an altered decision fails",
    lambda: _raises(AssertionError, audit_code, [(1, "consensus.decision", json.dumps(forged), None, seal)]),
)

# --- "Signed seals and signed heads": the seal signature and the head.
sig_vector = CONSENSUS["sealSignature"]
seal_text = canonicalize({"seal": seal, "signer": sig_vector["signature"]["signer"], "type": "audit.seal"})
check("Seal signature: signing text", seal_text == sig_vector["signingText"])
check("Seal signature: signer is the proposer", sig_vector["signature"]["signer"] == proposal["proposer"])
check("Seal signature: verifies", ed25519_verify(voter_keys["lead"], seal_text.encode(), unb64u(sig_vector["signature"]["sig"])))
check("Seal signature: stored beside the seal", stored == {**decision, "signature": sig_vector["signature"]})
check("Seal signature: not covered by the seal", hashlib.sha256(canonical_bytes({k: v for k, v in stored.items() if k not in ("seal", "signature")})).hexdigest() == seal)
head = CONSENSUS["head"]["signed"]
head_text = canonicalize({"head": {k: v for k, v in head.items() if k != "sig"}, "type": "audit.head"})
check("Signed head: signing text", head_text == CONSENSUS["head"]["signingText"])
check("Signed head: verifies", ed25519_verify(voter_keys[head["signer"]], head_text.encode(), unb64u(head["sig"])))
check("Signed head: vouches for the one-entry log", head["seq"] == 1 and head["headHash"] == seal and head["swarm"] == "vectors")
check("Signed head: fields as documented", set(head) == {"swarm", "seq", "headHash", "ts", "signer", "sig"})

# The document's check_signed / check_head, run as printed, with the helpers the
# document defines.
anchor_code = fenced(doc_section("### Signed seals and signed heads"), "python")[0]
anchor = {"canonicalize": canonicalize, "ed25519_verify": ed25519_verify, "unb64u": unb64u}
check("Signed seals (Python snippet): defines check_signed and check_head", lambda: exec(anchor_code, anchor) is None)
log = [(1, "consensus.decision", json.dumps(stored), None, seal)]
check("Signed seals (Python snippet): check_signed", lambda: anchor["check_signed"](stored, voter_keys["lead"]) is True)
check("Signed seals (Python snippet): check_head", lambda: anchor["check_head"](log, head, voter_keys["lead"]) is True)
check("Signed seals (Python snippet): check_head refuses a rewritten log", lambda: anchor["check_head"]([log[0][:4] + ("00" * 32,)], head, voter_keys["lead"]) is False)

# --- "Decisions, seals and the audit log": test/vectors/audit-chain.json, a log whose
# entries 2 and 3 are of other kinds: SHA-256 of "<seq>\n<kind>\n<prevHash or empty>\n<data>"
# over the stored text; and a head vouching for entry 3.
CHAIN = json.loads((ROOT / "test/vectors/audit-chain.json").read_text("utf-8"))
chain_rows = [(r["seq"], r["kind"], r["data"], r["prevHash"], r["hash"]) for r in CHAIN["rows"]]
check("audit-chain.json: entry 1 is the consensus vectors' stored decision", json.loads(chain_rows[0][2]) == stored)
for seq, kind, data, prev_hash, hash_ in chain_rows[1:]:
    text = f"{seq}\n{kind}\n{prev_hash or ''}\n{data}"
    check(f"audit-chain.json: entry {seq} ({kind}) hash input", text == CHAIN["hashInputs"][seq - 2])
    check(f"audit-chain.json: entry {seq} ({kind}) hash", hashlib.sha256(text.encode()).hexdigest() == hash_)
check("audit-chain.json: the log verifies (Python snippet)", lambda: exec(audit_code, {"canonicalize": canonicalize, "hashlib": hashlib, "json": json, "rows": chain_rows}) is None)
altered = [r if r[0] != 2 else r[:2] + (r[2].replace("500", "5000"),) + r[3:] for r in chain_rows]
check("audit-chain.json: an altered entry fails (Python snippet)", lambda: _raises(AssertionError, audit_code, altered))
chain_head = CHAIN["head"]["signed"]
check("audit-chain.json: head signing text", canonicalize({"head": {k: v for k, v in chain_head.items() if k != "sig"}, "type": "audit.head"}) == CHAIN["head"]["signingText"])
check("audit-chain.json: check_head (Python snippet)", lambda: anchor["check_head"](chain_rows, chain_head, voter_keys["lead"]) is True)
check("audit-chain.json: check_head refuses a truncated log", lambda: anchor["check_head"](chain_rows[:2], chain_head, voter_keys["lead"]) is False)

# --- The generated consensus section of PROTOCOL.md equals the file.
shown = between("<!-- consensus-vectors:start -->", "<!-- consensus-vectors:end -->")
for name, k in CONSENSUS["keys"].items():
    check(f"PROTOCOL.md shows key {name}", f"key `{name}`: seed `{k['privateKeySeed']}`, public key `{k['publicKey']}`" in shown)
for label, value in [
    ("card signature", card["sig"]),
    ("proposalHash", CONSENSUS["proposalHash"]),
    ("vote signature (lead)", CONSENSUS["votes"][0]["envelope"]["sig"]),
    ("vote signature (alice)", CONSENSUS["votes"][1]["envelope"]["sig"]),
    ("seal", CONSENSUS["seal"]),
    ("seal signature", sig_vector["signature"]["sig"]),
    ("signed head", head["sig"]),
]:
    check(f"PROTOCOL.md shows {label}", f"`{value}`" in shown)

# --- "Counting" > "Hierarchical": test/vectors/hierarchy.json, the tree of a hierarchical vote.
HIER = json.loads((ROOT / "test/vectors/hierarchy.json").read_text("utf-8"))
M32 = 2**32


def mulberry32(seed):
    state = seed

    def draw():
        nonlocal state
        state = (state + 0x6D2B79F5) % M32
        t = state
        t = ((t ^ (t >> 15)) * (t | 1)) % M32
        t = (t ^ (t + (t ^ (t >> 7)) * (t | 61))) % M32
        return (t ^ (t >> 14)) / M32

    return draw


def cut(items, k):
    c = max(1, -(-len(items) // k))
    base, extra, out, at = len(items) // c, len(items) % c, [], 0
    for i in range(c):
        n = base + (1 if i < extra else 0)
        out.append(items[at : at + n])
        at += n
    return out


def utf16(text):
    return text.encode("utf-16-be")


hier_hash = hashlib.sha256(canonical_bytes(HIER["proposal"])).hexdigest()
check("Hierarchical: proposalHash", hier_hash == HIER["proposalHash"])
seed_h = int(hier_hash[:8], 16)
check("Hierarchical: seed", seed_h == HIER["seed"])
draw = mulberry32(seed_h)
check("Hierarchical: mulberry32 draws", [draw() for _ in HIER["mulberry32"]] == HIER["mulberry32"])
order = sorted((v["id"] for v in HIER["voters"] if v["weight"] > 0), key=utf16)
draw = mulberry32(seed_h)
for i in range(len(order) - 1, 0, -1):
    j = math.floor(draw() * (i + 1))
    order[i], order[j] = order[j], order[i]
check("Hierarchical: shuffled order", order == HIER["shuffled"], str(order))
weights = {v["id"]: v["weight"] for v in HIER["voters"]}
levels, groups = [], cut(order, HIER["clusterSize"])
while True:
    levels.append(groups)
    if len(groups) == 1:
        break
    groups = cut([f"{len(levels) - 1}.{i}" for i in range(len(groups))], HIER["clusterSize"])
p_ts, p_deadline = HIER["proposal"]["ts"], HIER["proposal"]["deadline"]
deadlines = [p_deadline if l == len(levels) - 1 else p_ts + (p_deadline - p_ts) * (l + 1) // len(levels) for l in range(len(levels))]
check("Hierarchical: level deadlines", deadlines == HIER["levelDeadlines"], str(deadlines))
built, first_rep, weight_of = [], {}, {}
for l, clusters in enumerate(levels):
    for index, members in enumerate(clusters):
        name = f"{l}.{index}"
        candidates = members if l == 0 else [first_rep[m] for m in members]
        ranked = [] if l == len(levels) - 1 else sorted(candidates, key=utf16)[:2]
        first_rep[name] = ranked[0] if ranked else None
        weight_of[name] = sum(weights[m] for m in members) if l == 0 else sum(weight_of[m] for m in members)
        built.append({"id": name, "members": members, "representatives": ranked, "weight": weight_of[name], "closesAt": deadlines[l]})
check("Hierarchical: every cluster", built == HIER["clusters"], json.dumps(built))

# --- "LLM agents": child task ids and hold keys.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def child_task_id(parent, step):
    digest = hashlib.sha256(f"{parent}\n{step}".encode()).digest()
    return parent[:10] + "".join(CROCKFORD[b & 31] for b in digest[:16])


for parent, step, child in re.findall(r"^\| `(\w{26})` \| `([^`]+)` \| `(\w{26})` \|$", DOC, re.M):
    check(f"childTaskId({step})", child_task_id(parent, step) == child, child_task_id(parent, step))
    check(f"childTaskId({step}) is a ULID", ULID.match(child) is not None)
hold = re.search(r"e\.g\. task (\S+), agent (\S+), step (\S+)\n\s+→ (\S+)", DOC)
check("Holds: the example key", hold and f"llm:{hold[1]}:{hold[2]}:{hashlib.sha256(hold[3].encode()).hexdigest()[:16]}" == hold[4])

# --- "Subjects", "Runs", "Trace context headers", budgets, markets: header names
# carried in envelope headers must fit the envelope's header-name rule.
for name in sorted(set(re.findall(r"`(conclave-[a-z-]+)`", DOC)) | {"traceparent", "tracestate"}):
    check(f"header name {name} fits ^[a-z0-9-]{{1,128}}$", HEADER_NAME.match(name) is not None)
traceparent = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
check("Trace context: the vector's traceparent", traceparent.match(envelope["headers"]["traceparent"]) is not None)
SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_:$-]+$")
for row in re.findall(r"^\| `(<swarm>\.[^`]+)`", DOC, re.M):
    concrete = re.sub(r"<[^>]+>", "x", row)
    check(f"subject {row} is made of valid tokens", all(SUBJECT_TOKEN.match(t) for t in concrete.split(".")))

print(f"{passed} checks passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
