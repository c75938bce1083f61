/**
 * `propose` refuses bad input with a typed error before any round starts.
 * Data JSON cannot represent (a bigint, a cycle, a function) threw a bare
 * TypeError/SyntaxError; a `deadlineMs` that is not a duration was never
 * checked, so zero or a negative one sealed a `no-quorum` decision whose
 * deadline came before its own `ts` (a decision nobody could vote on, kept
 * in the audit log for good) and NaN surfaced as a canonical-JSON error.
 * Now data is refused with InvalidEnvelopeError and `deadlineMs` outside
 * 10..86_400_000 ms (as the swarm file allows) with ConfigError, and nothing
 * is sealed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DECISION_KIND } from "../../src/consensus/audit-verify.js";
import { ConfigError, InvalidEnvelopeError } from "../../src/errors/index.js";
import { readAuditLog } from "../../src/runtime/consensus/audit-log.js";
import { createTestSwarm } from "../../src/testkit/index.js";

function council() {
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 1 },
        voters: ["lead"],
        deadlineMs: 1000,
      },
    },
  });
  t.swarm.agent({ id: "architect", role: "lead", weight: 1 });
  return t;
}

async function sealed(t: ReturnType<typeof council>): Promise<number> {
  return (await readAuditLog(t.swarm.store)).filter((r) => r.kind === DECISION_KIND).length;
}

test("data JSON cannot represent is refused with InvalidEnvelopeError", async () => {
  const t = council();
  try {
    await t.swarm.start();
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    for (const data of [{ amount: 10n }, () => 1, cyclic]) {
      await assert.rejects(
        t.swarm.propose("funds.transfer", data, { as: "architect" }),
        (error: unknown) =>
          error instanceof InvalidEnvelopeError && /pass plain JSON data/.test(error.message),
      );
    }
    assert.equal(await sealed(t), 0);
  } finally {
    await t.cleanup();
  }
});

test("a deadlineMs that is not a whole number of ms from 10 to 86_400_000 is refused with ConfigError", async () => {
  const t = council();
  try {
    await t.swarm.start();
    for (const deadlineMs of [
      -60_000,
      0,
      9,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      86_400_001,
    ]) {
      await assert.rejects(
        t.swarm.propose("funds.transfer", { amount: 1 }, { as: "architect", deadlineMs }),
        (error: unknown) =>
          error instanceof ConfigError && /deadlineMs must be a whole number/.test(error.message),
        `deadlineMs ${deadlineMs}`,
      );
    }
    assert.equal(await sealed(t), 0, "no decision sealed for a refused proposal");
    const ok = await t.swarm.propose(
      "funds.transfer",
      { amount: 1 },
      { as: "architect", deadlineMs: 1000 },
    );
    assert.equal(ok.outcome, "approved");
  } finally {
    await t.cleanup();
  }
});
