import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  allOf,
  applyPolicy,
  compilePolicy,
  evaluatePolicy,
  type PolicyHandler,
  parsePolicy,
  parsePolicyYaml,
  type VoterPolicy,
} from "../../src/consensus/policy.js";
import type { Proposal } from "../../src/consensus/types.js";
import { PolicyError } from "../../src/errors/index.js";

const T0 = 1_700_000_000_000;

function proposal(action: string, data: unknown, proposer = "lead"): Proposal {
  return {
    id: "01JD0000000000000000000P01",
    action,
    data,
    proposer,
    ts: T0,
    deadline: T0 + 60_000,
    protocol: "quorum",
  };
}

const TRANSFERS: VoterPolicy = {
  rules: [
    {
      name: "small-transfers",
      when: 'action == "funds.transfer"',
      require: 'data.amount <= 1000 && data.env != "prod"',
      message: "transfers over 1000 credits or to prod need a human",
    },
    {
      require: 'proposer != "intern"',
      message: "interns cannot propose privileged actions",
    },
  ],
  default: "reject",
};

function rejects(fn: () => unknown, check: (err: PolicyError) => void): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PolicyError, String(err));
    assert.equal(err.code, "E_POLICY");
    check(err);
    return true;
  });
}

describe("CEL rules", () => {
  test('the brief\'s example: data.amount <= 1000 && data.env != "prod"', () => {
    assert.deepEqual(
      evaluatePolicy(TRANSFERS, proposal("funds.transfer", { amount: 500, env: "dev" })),
      {
        choice: "approve",
        reasons: ["rule 0 (small-transfers) holds", "rule 1 holds"],
      },
    );
    assert.deepEqual(
      evaluatePolicy(TRANSFERS, proposal("funds.transfer", { amount: 1000.5, env: "dev" })),
      {
        choice: "reject",
        reasons: ["transfers over 1000 credits or to prod need a human"],
      },
    );
    assert.equal(
      evaluatePolicy(TRANSFERS, proposal("funds.transfer", { amount: 5, env: "prod" })).choice,
      "reject",
    );
  });

  test("every failing rule gives its reason", () => {
    const verdict = evaluatePolicy(
      TRANSFERS,
      proposal("funds.transfer", { amount: 5000, env: "prod" }, "intern"),
    );
    assert.deepEqual(verdict, {
      choice: "reject",
      reasons: [
        "transfers over 1000 credits or to prod need a human",
        "interns cannot propose privileged actions",
      ],
    });
  });

  test("the default applies when no rule applies", () => {
    const onlyTransfers: VoterPolicy = {
      rules: [TRANSFERS.rules[0] as VoterPolicy["rules"][0]],
      default: "abstain",
    };
    assert.deepEqual(evaluatePolicy(onlyTransfers, proposal("backup.delete", { backup: "x" })), {
      choice: "abstain",
      reasons: ["no rule applies; the policy's default"],
    });
    assert.equal(
      evaluatePolicy({ rules: [], default: "approve" }, proposal("x", null)).choice,
      "approve",
    );
    assert.equal(
      evaluatePolicy({ rules: [], default: "reject" }, proposal("x", null)).choice,
      "reject",
    );
  });

  test("expressions see the proposal's fields, lists, macros and the caller's context", () => {
    const policy = compilePolicy({
      rules: [
        { require: 'data.targets.all(t, t.startsWith("staging-"))', message: "staging only" },
        { require: "size(data.targets) <= context.maxTargets", message: "too many targets" },
        {
          require: 'deadline - ts <= 3600000 && protocol == "quorum" && proposal.id == id',
          message: "window",
        },
      ],
      default: "reject",
    });
    const p = proposal("deploy.rollout", { targets: ["staging-1", "staging-2"] });
    assert.equal(evaluatePolicy(policy, p, { maxTargets: 2 }).choice, "approve");
    assert.deepEqual(evaluatePolicy(policy, p, { maxTargets: 1 }).reasons, ["too many targets"]);
    const prod = proposal("deploy.rollout", { targets: ["staging-1", "prod-1"] });
    assert.deepEqual(evaluatePolicy(policy, prod, { maxTargets: 5 }).reasons, ["staging only"]);
  });

  test("a rule that cannot be evaluated fails closed", () => {
    const verdict = evaluatePolicy(TRANSFERS, proposal("funds.transfer", { env: "dev" }));
    assert.equal(verdict.choice, "reject");
    assert.match(verdict.reasons[0] ?? "", /could not be evaluated: No such key: amount/);
    const notBool = evaluatePolicy(
      { rules: [{ require: "data.flag", message: "flag must be set" }], default: "approve" },
      proposal("x", { flag: "yes" }),
    );
    assert.equal(notBool.choice, "reject");
    assert.match(notBool.reasons[0] ?? "", /not a boolean/);
  });
});

describe("compile errors name the rule and the position", () => {
  test("syntax errors", () => {
    rejects(
      () =>
        compilePolicy({ rules: [{ require: "data.amount <=", message: "m" }], default: "reject" }),
      (err) => {
        assert.equal(err.rule, 0);
        assert.deepEqual(err.position, { line: 1, column: 15 });
        assert.match(err.message, /rule 0: require does not compile at line 1, column 15/);
      },
    );
  });

  test("unknown variables (typos) and type errors", () => {
    rejects(
      () =>
        compilePolicy({
          rules: [
            { require: "true", message: "ok" },
            { name: "typo", when: "dta.amount > 5", require: "true", message: "m" },
          ],
          default: "reject",
        }),
      (err) => {
        assert.equal(err.rule, 1);
        assert.match(err.message, /rule 1 \(typo\): when .*Unknown variable: dta/);
      },
    );
    rejects(
      () => compilePolicy({ rules: [{ require: '"a" + 1 > 0', message: "m" }], default: "reject" }),
      (err) => assert.match(err.message, /no such overload/),
    );
    rejects(
      () => compilePolicy({ rules: [{ require: "1 + 1", message: "m" }], default: "reject" }),
      (err) => assert.match(err.message, /must be a boolean expression/),
    );
  });

  test("multi-line expressions report the line", () => {
    rejects(
      () =>
        compilePolicy({
          rules: [{ require: "data.a &&\n  data.b ==", message: "m" }],
          default: "reject",
        }),
      (err) => assert.deepEqual(err.position, { line: 2, column: 12 }),
    );
  });
});

describe("loading policies", () => {
  test("from YAML", () => {
    const policy = parsePolicyYaml(`
rules:
  - when: action == "funds.transfer"
    require: data.amount <= 1000 && data.env != "prod"
    message: transfers over 1000 credits or to prod need a human
default: reject
`);
    assert.equal(policy.rules.length, 1);
    assert.equal(
      evaluatePolicy(policy, proposal("funds.transfer", { amount: 10, env: "dev" })).choice,
      "approve",
    );
  });

  test("shape errors say what to fix", () => {
    rejects(
      () => parsePolicy(null),
      (err) => assert.match(err.message, /must be an object/),
    );
    rejects(
      () => parsePolicy({ rules: [] }),
      (err) => assert.match(err.message, /default/),
    );
    rejects(
      () => parsePolicy({ rules: [], default: "maybe" }),
      (err) => assert.match(err.message, /default/),
    );
    rejects(
      () => parsePolicy({ rules: [{ requires: "true", message: "m" }], default: "reject" }),
      (err) => {
        assert.equal(err.rule, 0);
        assert.match(err.message, /unknown field "requires"/);
      },
    );
    rejects(
      () => parsePolicy({ rules: [{ require: "true" }], default: "reject" }),
      (err) => assert.match(err.message, /message is required/),
    );
    rejects(
      () => parsePolicy({ rule: [], default: "reject" }),
      (err) => assert.match(err.message, /unknown policy field "rule"/),
    );
    rejects(
      () => parsePolicyYaml("rules:\n  - when: x\n   require: y\ndefault: reject"),
      (err) => assert.equal(err.position?.line, 3),
    );
  });
});

describe("handler policies", () => {
  const approveAll: PolicyHandler = () => ({ choice: "approve", reasons: ["the judge likes it"] });

  test("a handler decides, sync or async", async () => {
    assert.deepEqual(await applyPolicy(approveAll, proposal("x", null)), {
      choice: "approve",
      reasons: ["the judge likes it"],
    });
    const slow: PolicyHandler = async (p) => ({
      choice: p.action === "x" ? "abstain" : "reject",
      reasons: [],
    });
    assert.equal((await applyPolicy(slow, proposal("x", null))).choice, "abstain");
  });

  test("allOf asks rules first and skips the judge when they reject", async () => {
    let asked = 0;
    const judge: PolicyHandler = async () => {
      asked++;
      return { choice: "approve", reasons: ["judge: fine"] };
    };
    const vote = allOf(TRANSFERS, judge);
    const big = await applyPolicy(vote, proposal("funds.transfer", { amount: 5000, env: "dev" }));
    assert.equal(big.choice, "reject");
    assert.equal(asked, 0);
    const small = await applyPolicy(vote, proposal("funds.transfer", { amount: 50, env: "dev" }));
    assert.equal(small.choice, "approve");
    assert.equal(asked, 1);
    assert.deepEqual(small.reasons.at(-1), "judge: fine");
    const unsure = allOf(approveAll, () => ({ choice: "abstain", reasons: ["unsure"] }));
    assert.equal((await unsure(proposal("x", null), {})).choice, "abstain");
  });

  test("a handler returning nonsense is a policy error; invalid rules fail when combined", async () => {
    const broken = (() => ({ choice: "yes" })) as unknown as PolicyHandler;
    await assert.rejects(applyPolicy(broken, proposal("x", null)), PolicyError);
    assert.throws(() => allOf(), PolicyError);
    assert.throws(
      () => allOf({ rules: [{ require: "(", message: "m" }], default: "reject" }, approveAll),
      PolicyError,
    );
  });
});
