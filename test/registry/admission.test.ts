import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodePublicKey, fingerprint, generateAgentKeyPair } from "../../src/identity/keys.js";
import {
  type AdmissionPolicy,
  admitCard,
  checkCredential,
  type DeclaredAgent,
  issueCredential,
} from "../../src/registry/admission.js";
import type { AgentCard } from "../../src/registry/agent-card.js";

const operator = generateAgentKeyPair();
const agentKeys = generateAgentKeyPair();
const key = encodePublicKey(agentKeys.publicKey);
const now = 1_800_000_000_000;

const declared: DeclaredAgent[] = [
  { id: "dev-1", role: "developer", weight: 1 },
  { id: "council-1", role: "council", weight: 2, owner: "team-a" },
  { id: "pinned", role: "developer", weight: 1, publicKey: key },
  { id: "fp", role: "developer", weight: 1, publicKey: fingerprint(agentKeys.publicKey) },
];

const policy = (mode: AdmissionPolicy["mode"]): AdmissionPolicy => ({
  mode,
  swarm: "demo",
  declared: new Map(declared.map((d) => [d.id, d])),
  operatorKey: operator.publicKey,
});

const card = (fields: Partial<AgentCard> & { id: string; role: string }): AgentCard => ({
  tags: [],
  capabilities: [],
  weight: 1,
  publicKey: key,
  ...fields,
});

describe("admission: declared", () => {
  test("a declared agent with its file's role, weight and owner is admitted with that grant", () => {
    const verdict = admitCard(
      policy("declared"),
      card({ id: "council-1", role: "council", weight: 2, owner: "team-a" }),
      { now },
    );
    assert.equal(verdict.admitted, true);
    assert.deepEqual(verdict.admitted && verdict.grant, {
      agent: "council-1",
      role: "council",
      weight: 2,
      owner: "team-a",
      via: "declared",
    });
  });

  test("an agent nobody declared is refused with E_NOT_ADMITTED and what to do", () => {
    const verdict = admitCard(policy("declared"), card({ id: "py-1", role: "architect" }), { now });
    assert.equal(verdict.admitted, false);
    assert.equal(!verdict.admitted && verdict.code, "E_NOT_ADMITTED");
    assert.match(!verdict.admitted ? verdict.reason : "", /declare it under agents:/);
  });

  test("a card can never claim more than its grant: another role, weight or owner is E_ROLE_MISMATCH", () => {
    for (const claim of [
      { role: "architect", weight: 2, owner: "team-a" },
      { role: "council", weight: 1000, owner: "team-a" },
      { role: "council", weight: 2, owner: "team-b" },
      { role: "council", weight: 2 },
    ]) {
      const verdict = admitCard(policy("declared"), card({ id: "council-1", ...claim }), { now });
      assert.equal(!verdict.admitted && verdict.code, "E_ROLE_MISMATCH", JSON.stringify(claim));
    }
  });

  test("a key pinned in the file (key or fingerprint) refuses any other key with E_KEY_MISMATCH", () => {
    const other = encodePublicKey(generateAgentKeyPair().publicKey);
    for (const id of ["pinned", "fp"]) {
      assert.equal(
        admitCard(policy("declared"), card({ id, role: "developer" }), { now }).admitted,
        true,
      );
      const verdict = admitCard(
        policy("declared"),
        card({ id, role: "developer", publicKey: other }),
        { now },
      );
      assert.equal(!verdict.admitted && verdict.code, "E_KEY_MISMATCH");
    }
  });

  test("a key pinned on first sight stays pinned: a new key for the id is E_KEY_MISMATCH", () => {
    const other = encodePublicKey(generateAgentKeyPair().publicKey);
    const verdict = admitCard(
      policy("declared"),
      card({ id: "dev-1", role: "developer", publicKey: other }),
      { now, pinnedKey: key },
    );
    assert.equal(!verdict.admitted && verdict.code, "E_KEY_MISMATCH");
  });
});

describe("admission: credentials", () => {
  const credential = (
    over: Partial<Parameters<typeof issueCredential>[0]> = {},
    signer = operator.privateKey,
  ) =>
    issueCredential(
      {
        swarm: "demo",
        agent: "new-1",
        role: "developer",
        publicKey: key,
        issuedAt: now - 1000,
        notAfter: now + 60_000,
        ...over,
      },
      signer,
    );

  test("a valid credential admits an undeclared agent with the role and weight it grants", () => {
    const verdict = admitCard(
      policy("credential"),
      card({ id: "new-1", role: "developer", credential: credential() }),
      { now },
    );
    assert.equal(verdict.admitted, true);
    assert.equal(verdict.admitted && verdict.grant.via, "credential");
    assert.equal(verdict.admitted && verdict.grant.expiresAt, now + 60_000);
  });

  test("an expired, forged, other-swarm, other-agent or other-key credential is refused with its reason", () => {
    const cases: [unknown, string, RegExp][] = [
      [credential({ notAfter: now - 1 }), "E_CREDENTIAL_EXPIRED", /expired/],
      [
        credential({}, generateAgentKeyPair().privateKey),
        "E_CREDENTIAL_INVALID",
        /not signed by the swarm's operator/,
      ],
      [{ ...credential(), role: "council" }, "E_CREDENTIAL_INVALID", /not signed/],
      [credential({ swarm: "other" }), "E_CREDENTIAL_INVALID", /for swarm "other"/],
      [credential({ agent: "someone" }), "E_CREDENTIAL_INVALID", /names agent "someone"/],
      [
        credential({ publicKey: encodePublicKey(generateAgentKeyPair().publicKey) }),
        "E_CREDENTIAL_INVALID",
        /another key/,
      ],
      [{ hello: "world" }, "E_CREDENTIAL_INVALID", /malformed/],
    ];
    for (const [c, code, reason] of cases) {
      const verdict = admitCard(
        policy("credential"),
        card({ id: "new-1", role: "developer", credential: c }),
        { now },
      );
      assert.equal(!verdict.admitted && verdict.code, code);
      assert.match(!verdict.admitted ? verdict.reason : "", reason);
    }
  });

  test("credentials count only under admission: credential", () => {
    const verdict = admitCard(
      policy("declared"),
      card({ id: "new-1", role: "developer", credential: credential() }),
      { now },
    );
    assert.equal(!verdict.admitted && verdict.code, "E_NOT_ADMITTED");
  });

  test("a credential for the new key re-keys a pinned id", () => {
    const fresh = generateAgentKeyPair();
    const freshKey = encodePublicKey(fresh.publicKey);
    const c = credential({ agent: "dev-1", publicKey: freshKey });
    const verdict = admitCard(
      policy("credential"),
      card({ id: "dev-1", role: "developer", publicKey: freshKey, credential: c }),
      { now, pinnedKey: key },
    );
    assert.equal(verdict.admitted, true);
  });

  test("a credential issued more than 5 minutes ahead of the node's clock is refused, naming the clocks", () => {
    const policy = { swarm: "demo", operatorKey: operator.publicKey };
    const ahead = checkCredential(
      credential({ issuedAt: now + 6 * 60_000, notAfter: now + 3_600_000 }),
      { id: "new-1", publicKey: key },
      policy,
      now,
    );
    assert.equal(ahead.admitted, false);
    assert.match(
      !ahead.admitted ? ahead.reason : "",
      /more than 5 minutes after this node's clock.*conclave admit/,
    );
    const skewed = checkCredential(
      credential({ issuedAt: now + 4 * 60_000, notAfter: now + 3_600_000 }),
      { id: "new-1", publicKey: key },
      policy,
      now,
    );
    assert.equal(skewed.admitted, true, "a clock a few minutes off is tolerated");
  });

  test("checkCredential needs the operator's key", () => {
    const verdict = checkCredential(
      credential(),
      { id: "new-1", publicKey: key },
      { swarm: "demo" },
      now,
    );
    assert.match(!verdict.admitted ? verdict.reason : "", /names no operator key/);
  });
});

describe("admission: open", () => {
  test("any card is admitted with what it claims", () => {
    const verdict = admitCard(policy("open"), card({ id: "x", role: "r", weight: 7 }), { now });
    assert.equal(verdict.admitted && verdict.grant.weight, 7);
  });
});
