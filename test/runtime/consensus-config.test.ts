import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseSwarmConfig } from "../../src/config/load.js";
import type { PrivilegedAction } from "../../src/consensus/rule.js";
import type { Decision } from "../../src/consensus/seal.js";
import { ConfigError } from "../../src/errors/index.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { loadPolicyFile } from "../../src/runtime/consensus/policy-file.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import type { Envelope } from "../../src/wire/envelope.js";

const work = mkdtempSync(join(tmpdir(), "conclave-consensus-config-"));
after(() => rmSync(work, { recursive: true, force: true }));

const base = `swarm: council
roles: { lead: {}, finance: {}, ops: { tasks: [funds.transfer] } }
agents:
  - { id: lead, role: lead, weight: 2 }
  - { id: cfo, role: finance, weight: 1.5, policy: ./cfo.yaml }
  - { id: ops-1, role: ops }
`;

function parse(privileged: string) {
  return parseSwarmConfig(`${base}privileged:\n${privileged}`, { baseDir: work });
}

function problems(privileged: string): string {
  try {
    parse(privileged);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail("expected a configuration error");
}

describe("the privileged section of the swarm file", () => {
  test("defaults: quorum, a strict majority, every role votes, 5 s; policy paths resolve next to the file", () => {
    const config = parse("  funds.transfer: {}\n");
    assert.deepEqual(config.privileged["funds.transfer"], {
      protocol: "quorum",
      threshold: { fraction: 0.5, strict: true },
      voters: ["lead", "finance", "ops"],
      humans: [],
      vetoRoles: [],
      deadlineMs: 5000,
      faultTolerance: "crash",
    });
    assert.equal(config.agents[1]?.policy, join(work, "cfo.yaml"));
  });

  test("clear errors: unknown roles, a veto role that does not vote, an unreachable threshold, pbft with too few voters", () => {
    const message = problems(
      "  funds.transfer: { voters: [lead, finanse], vetoRoles: [ops], threshold: { weight: 9 } }\n  deploy.production: { protocol: pbft }\n  backup.delete: { threshold: { fraction: 1.5 }, clusterSize: 3 }\n",
    );
    assert.match(
      message,
      /privileged\.funds\.transfer\.voters\.1: role "finanse" is not defined under roles \(did you mean "finance"\?\)/,
    );
    assert.match(message, /vetoRoles\.0: veto role "ops" is not among the voters/);
    assert.match(
      message,
      /threshold\.weight: expected at most the voters' total weight \(2\), got 9/,
    );
    assert.match(message, /deploy\.production\.protocol: pbft needs at least 4 voters/);
    assert.match(
      message,
      /backup\.delete\.threshold\.fraction: expected a number in \(0, 1\], got 1\.5/,
    );
    assert.match(message, /clusterSize applies to the hierarchical protocol/);
    assert.match(problems("  Funds: {}\n"), /expected an action name/);
  });

  test("a voter policy file is compiled at start: a bad rule names the file, the rule and the position", async () => {
    const good = join(work, "good.yaml");
    writeFileSync(
      good,
      "rules:\n  - require: data.amount <= 1000\n    message: too much\ndefault: reject\n",
    );
    const policy = await loadPolicyFile(good);
    assert.equal(policy.rules.length, 1);
    const bad = join(work, "bad.yaml");
    writeFileSync(
      bad,
      "rules:\n  - require: data.amount <=\n    message: broken\ndefault: reject\n",
    );
    await assert.rejects(loadPolicyFile(bad), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /bad\.yaml: rule 0: require does not compile at line 1/);
      return true;
    });
    await assert.rejects(
      loadPolicyFile(join(work, "missing.yaml")),
      /cannot read the voter policy/,
    );
  });

  test("openSwarm wires the privileged actions and the policy files: the CFO's rule rejects, the guard holds", async () => {
    writeFileSync(
      join(work, "cfo.yaml"),
      'rules:\n  - when: action == "funds.transfer"\n    require: data.amount <= 1000\n    message: over the CFO limit\ndefault: approve\n',
    );
    const config = parseSwarmConfig(
      `${base}dataDir: ./data\nprivileged:\n  funds.transfer: { threshold: { weight: 3.5 }, voters: [lead, finance] }\n`,
      { baseDir: work },
    );
    const ran: unknown[] = [];
    const swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role === "ops") agent.handle("funds.transfer", (ctx) => ran.push(ctx.body));
        },
      },
    });
    try {
      await swarm.start();
      const ok = await swarm.propose("funds.transfer", { amount: 10 }, { as: "lead" });
      const no = await swarm.propose("funds.transfer", { amount: 10_000 }, { as: "lead" });
      assert.equal(ok.outcome, "approved");
      assert.equal(no.outcome, "rejected");
      const reason = (no.votes.find((v) => v.from === "cfo") as Envelope<{ reason: string }>).body
        .reason;
      assert.match(reason, /over the CFO limit/);
      await swarm.submit("ops", "funds.transfer", ok.proposal.data, {
        as: "lead",
        approval: ok.seal,
      });
      for (let i = 0; i < 200 && ran.length === 0; i++) await sleep(10);
      assert.deepEqual(ran, [{ amount: 10 }]);
      const cards = await swarm.store.agentCards();
      assert.deepEqual(
        cards.map((c) => c.id).sort(),
        ["cfo", "lead", "ops-1"],
        "the registry snapshot",
      );
    } finally {
      await swarm.close();
    }
  });
});

describe("a node checks the rule of a proposal before voting", () => {
  test("voters configured with another threshold refuse the proposal, saying why", async () => {
    const broker = new MemoryBroker({});
    const made: Swarm[] = [];
    const node = (name: string, privileged: Record<string, PrivilegedAction>) => {
      const swarm = createSwarm({
        name: "rules",
        transport: createMemoryTransport({ broker }),
        store: openSqliteStore({ path: join(work, "rules.db") }),
        keys: () => generateAgentKeyPair(),
        roles: { lead: {}, finance: {} },
        defaults: { heartbeatMs: 50 },
        nodeId: name,
        privileged,
      });
      made.push(swarm);
      return swarm;
    };
    try {
      const a = node("a", { "funds.transfer": { threshold: { weight: 2 }, deadlineMs: 500 } });
      const b = node("b", { "funds.transfer": { threshold: { weight: 3 }, deadlineMs: 500 } });
      a.agent({ id: "lead", role: "lead" });
      b.agent({ id: "cfo", role: "finance" });
      const trusted: SwarmEvent[] = [];
      a.on((e) => {
        if (e.type === "agent.trusted") trusted.push(e);
      });
      await a.start();
      await b.start();
      let decision: Decision | undefined;
      for (let i = 0; i < 100; i++) {
        if (trusted.length > 0) {
          decision = await a.propose("funds.transfer", { amount: 1 }, { as: "lead" });
          if (decision.votes.some((v) => v.from === "cfo")) break;
        }
        await sleep(20);
      }
      const vote = decision?.votes.find((v) => v.from === "cfo") as
        | Envelope<{ choice: string; reason: string }>
        | undefined;
      assert.ok(vote, "cfo voted");
      assert.equal(vote.body.choice, "reject");
      assert.match(
        vote.body.reason,
        /refused: the proposal's threshold \{"weight":2\} is not the configured \{"weight":3\}/,
      );
      assert.equal(decision?.outcome, "rejected");
    } finally {
      for (const s of made) await s.close();
      broker.close();
    }
  });
});
