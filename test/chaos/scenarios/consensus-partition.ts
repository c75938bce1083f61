/**
 * Consensus under a network partition across OS processes (issue 17): four
 * council voters, alice, bob, carol and dave, each in a swarm-node process
 * of its own (test/integration/fixtures/swarm-node.ts) that reaches a
 * private nats-server through its own chaos proxy, and one shared SQLite
 * store.
 *
 * - `pbft-primary-blackhole`: `deploy.production` by PBFT (n = 4, f = 1).
 *   alice, the primary of view 0 (replicas sorted by id), is black-holed
 *   just before each proposal and healed only after its decision: the three
 *   others must change view and commit under bob, so each round ends
 *   `approved` with a 2f + 1 commit certificate of a view ≥ 1.
 * - `quorum-split`: `funds.transfer` by quorum, weight 3 of 4 needed. carol
 *   and dave are black-holed together (alice and bob on one side, carol and
 *   dave on the other: two of four each, no side has a quorum) for longer
 *   than the round's deadline; rounds are proposed from both sides while it
 *   lasts. Each must end `no-quorum` at its deadline; after the heal the
 *   votes that were held back reach closed rounds (late votes, evidence only).
 *
 * Then, for both: exactly one sealed decision per proposal in the audit log,
 * the outcome every process's own events report for a proposal is that one,
 * every process reads the same decision back from its store and checks it,
 * and `conclave audit verify` accepts the log.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { PrivilegedAction } from "../../../src/consensus/rule.js";
import type { Decision } from "../../../src/consensus/seal.js";
import { encodePublicKey } from "../../../src/identity/keys.js";
import { readAuditLog, verifyAuditLog } from "../../../src/runtime/consensus/audit-log.js";
import { openSqliteStore } from "../../../src/store/sqlite-store.js";
import { natsServerAvailable, startNatsServer } from "../../../src/testkit/brokers/nats-server.js";
import { canonicalize } from "../../../src/wire/canonical.js";
import { finish, jsonLines, start } from "../../cli/run-cli.js";
import { agentKeys } from "../../integration/fixtures/keys.js";
import {
  killAll,
  type NodeLine,
  type NodeProcess,
  randomSwarmName,
  startNode,
} from "../../integration/fixtures/processes.js";
import type { NodeSpec } from "../../integration/fixtures/swarm-node.js";
import type { Verdict } from "../checker.js";
import { between, type FaultRecord, rngFor } from "../harness.js";
import { type ChaosProxy, startChaosProxy } from "../proxy.js";
import type { Scenario, ScenarioResult } from "./index.js";

const VOTERS = ["alice", "bob", "carol", "dave"] as const;
type Voter = (typeof VOTERS)[number];

/** Long enough for two view changes (a sixth of it each, see pbftViewChangeTicks). */
const DEADLINE_MS = 6_000;

const PRIVILEGED: Record<string, PrivilegedAction> = {
  "deploy.production": { protocol: "pbft", voters: ["council"], deadlineMs: DEADLINE_MS },
  "funds.transfer": {
    protocol: "quorum",
    threshold: { weight: 3 },
    voters: ["council"],
    deadlineMs: 3_000,
  },
};

export type PartitionKind = "pbft-primary-blackhole" | "pbft-primary-midround" | "quorum-split";

/** One round of a run: who proposes, and the black hole around it (ms). */
export interface PartitionRound {
  readonly proposer: Voter;
  /** The black hole starts this long before the proposal (`pbft-primary-midround`: after it). */
  readonly leadMs: number;
  /** It is healed this long after the decision (quorum-split: after the deadline). */
  readonly trailMs: number;
}

/** The rounds of a run, drawn from the seed before anything runs. */
export function partitionPlan(kind: PartitionKind, seed: number, rounds = 3): PartitionRound[] {
  const rng = rngFor(seed);
  // PBFT: any proposer but the black-holed primary. Quorum: both sides take turns.
  const proposers: readonly Voter[] =
    kind === "quorum-split" ? ["alice", "carol"] : ["bob", "carol", "dave"];
  return Array.from({ length: rounds }, (_, i) => ({
    proposer:
      kind === "quorum-split"
        ? (proposers[i % 2] as Voter)
        : (proposers[Math.floor(rng.next() * proposers.length)] as Voter),
    // Mid-round: within the first 150 ms, while the pre-prepare, prepares and commits are on their way.
    leadMs: kind === "pbft-primary-midround" ? between(rng, 0, 150) : between(rng, 50, 400),
    trailMs: between(rng, 100, 1_500),
  }));
}

/** What a run found, beyond the verdict: each round's decision as proposed. */
export interface PartitionRunResult extends ScenarioResult {
  readonly decisions: readonly { readonly proposer: string; readonly decision: Decision }[];
}

/** Runs one partition scenario; `rounds` overrides the default of 3. */
export async function runPartition(
  kind: PartitionKind,
  seed: number,
  log: (line: string) => void,
  rounds = 3,
): Promise<PartitionRunResult> {
  const started = Date.now();
  const plan = partitionPlan(kind, seed, rounds);
  const server = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), `conclave-chaos-${kind}-`));
  const storePath = join(dir, "swarm.db");
  const swarm = randomSwarmName(kind === "quorum-split" ? "split" : "pbftbh");
  const proxies = new Map<Voter, ChaosProxy>();
  const nodes = new Map<Voter, NodeProcess>();
  const problems: string[] = [];
  const history: FaultRecord[] = [];
  const decisions: { proposer: string; decision: Decision }[] = [];
  try {
    for (const id of VOTERS) proxies.set(id, await startChaosProxy(server.port));
    const spec = (id: Voter): NodeSpec => ({
      swarm,
      nodeId: `node-${id}`,
      transport: {
        kind: "nats",
        servers: [`nats://127.0.0.1:${proxies.get(id)?.port}`],
        storage: "memory",
      },
      store: `sqlite:${storePath}`,
      roles: { council: {} },
      // A voter black-holed for a few seconds stays in the electorate (left after 20 s).
      defaults: { heartbeatMs: 200, suspectAfterMs: 10_000, leftAfterMs: 20_000 },
      privileged: PRIVILEGED,
      agents: [{ id, role: "council" }],
      quiet: true,
    });
    const up = await Promise.all(VOTERS.map((id) => startNode(spec(id), id, 90_000)));
    for (const node of up) nodes.set(node.label as Voter, node);
    for (const node of up) {
      for (const id of VOTERS) {
        if (id === node.label) continue;
        await node.waitFor(
          (l) => l.type === "agent.trusted" && l["agent"] === id,
          60_000,
          `${node.label} to trust ${id}`,
        );
      }
    }
    const t0 = Date.now();
    const cutOff: readonly Voter[] = kind === "quorum-split" ? ["carol", "dave"] : ["alice"];
    const action = kind === "quorum-split" ? "funds.transfer" : "deploy.production";
    for (const [i, round] of plan.entries()) {
      const node = nodes.get(round.proposer) as NodeProcess;
      const at = Date.now() - t0;
      const midround = kind === "pbft-primary-midround";
      if (!midround) for (const id of cutOff) proxies.get(id)?.blackhole();
      log(
        `  t=${at}ms ${midround ? `round ${i} proposed by ${round.proposer}; blackhole ${cutOff} ${round.leadMs} ms later` : `blackhole ${cutOff.join("+")}; round ${i} proposed by ${round.proposer}`}`,
      );
      if (!midround) await sleep(round.leadMs);
      const ref = `round-${i}`;
      const proposedAt = Date.now();
      node.send({ cmd: "propose", action, data: { round: i, seed }, as: round.proposer, ref });
      if (midround) {
        await sleep(round.leadMs);
        for (const id of cutOff) proxies.get(id)?.blackhole();
      }
      const line = await node
        .waitFor(
          (l) => (l.type === "proposed" || l.type === "propose.failed") && l["ref"] === ref,
          DEADLINE_MS + 15_000,
          `the decision of round ${i}`,
        )
        .catch((error: Error) => error);
      const tookMs = Date.now() - proposedAt;
      // quorum-split: the partition must outlast the deadline (it does: the round waits for it).
      await sleep(round.trailMs);
      for (const id of cutOff) proxies.get(id)?.heal();
      const healedAtMs = Date.now() - t0;
      history.push({
        atMs: at,
        kind: "blackhole",
        target: cutOff.join("+"),
        forMs: healedAtMs - at,
        healedAtMs,
      });
      if (line instanceof Error) {
        problems.push(`round ${i}: stuck (${line.message.split("\n")[0]})`);
        continue;
      }
      if (line.type !== "proposed") {
        problems.push(`round ${i}: propose failed: ${String(line["error"])}`);
        continue;
      }
      log(`  t=${healedAtMs}ms healed; round ${i}: ${line["outcome"]} after ${tookMs} ms`);
      const expected = kind === "quorum-split" ? "no-quorum" : "approved";
      if (line["outcome"] !== expected)
        problems.push(`round ${i}: ${String(line["outcome"])}, expected ${expected}`);
      if (kind === "quorum-split" && tookMs < 3_000)
        problems.push(`round ${i}: decided after ${tookMs} ms, before its 3000 ms deadline`);
      const read = await readEverywhere(nodes, String(line["seal"]), problems, `round ${i}`);
      if (read) {
        decisions.push({ proposer: round.proposer, decision: read });
        if (read.protocol === "pbft")
          log(
            `  round ${i}: certificate ${read.votes.map((v) => `${v.from}@view${(v.body as { view?: number }).view}`).join(", ")}`,
          );
      }
      // Let what the black hole held back arrive (late votes, stale PBFT messages).
      await sleep(1_500);
    }
    // After the last heal, a while for anything delayed to be (wrongly) decided again.
    await sleep(2_000);
    checkDecisions(kind, nodes, decisions, problems);
    const audit = await checkAuditLog(swarm, storePath, decisions.length, problems);
    for (const node of nodes.values()) {
      const fatal = node.lines.find((l) => l.type === "fatal");
      if (fatal) problems.push(`${node.label} crashed: ${String(fatal["error"]).slice(0, 300)}`);
    }
    const verdict: Verdict = {
      tasks: plan.length,
      completed: decisions.length,
      deadLettered: 0,
      untrustedDeadLetters: 0,
      lost: plan.length - decisions.length,
      duplicateEffects: 0,
      ledgerBalanced: true,
      auditVerified: audit,
      stuck: problems.some((p) => p.includes("stuck")),
      problems,
      ok: problems.length === 0,
    };
    return {
      scenario: kind,
      seed,
      faults: history,
      crashes: [],
      verdict,
      producerExit: null,
      durationMs: Date.now() - started,
      decisions,
    };
  } finally {
    await killAll([...nodes.values()]);
    for (const proxy of proxies.values()) await proxy.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The decision sealed as `seal`, read back and checked by every process; all the same. */
async function readEverywhere(
  nodes: ReadonlyMap<Voter, NodeProcess>,
  seal: string,
  problems: string[],
  what: string,
): Promise<Decision | undefined> {
  const texts = new Set<string>();
  let decision: Decision | undefined;
  for (const node of nodes.values()) {
    const ref = `read-${seal.slice(0, 12)}-${node.label}`;
    node.send({ cmd: "decision", seal, ref });
    const line = await node
      .waitFor(
        (l) => (l.type === "decision" || l.type === "decision.failed") && l["ref"] === ref,
        15_000,
        `${node.label} to read ${what}`,
      )
      .catch((error: Error) => ({ type: "decision.failed", error: error.message }) as NodeLine);
    if (line.type !== "decision" || line["problem"] !== undefined || line["log"] !== "ok") {
      problems.push(
        `${what}: ${node.label} reads ${String(line["error"] ?? line["problem"] ?? line["log"])}`,
      );
      continue;
    }
    decision = line["decision"] as Decision;
    texts.add(canonicalize(decision));
  }
  if (texts.size > 1)
    problems.push(`${what}: the processes read ${texts.size} different decisions`);
  return decision;
}

/**
 * Two outcomes for one proposal, anywhere: every `consensus.decided` any
 * process reported must be the sealed one, and PBFT commits name one digest.
 */
function checkDecisions(
  kind: PartitionKind,
  nodes: ReadonlyMap<Voter, NodeProcess>,
  decisions: readonly { proposer: string; decision: Decision }[],
  problems: string[],
): void {
  const sealed = new Map(decisions.map((d) => [d.decision.proposal.id, d.decision]));
  for (const node of nodes.values()) {
    for (const line of node.lines) {
      const proposal = String(line["proposal"] ?? "");
      if (line.type === "consensus.decided") {
        const decision = sealed.get(proposal);
        if (decision === undefined)
          problems.push(`${node.label} decided proposal ${proposal}, which no round sealed`);
        else if (line["outcome"] !== decision.outcome || line["seal"] !== decision.seal)
          problems.push(
            `${node.label} reports ${String(line["outcome"])} for ${proposal}, sealed ${decision.outcome}`,
          );
      }
      if (line.type === "consensus.committed" && kind === "quorum-split")
        problems.push(`${node.label} committed ${proposal} in a quorum round`);
    }
  }
  if (kind === "quorum-split") return;
  // Cut mid-round, the primary's pre-prepare may have got out: view 0 may commit.
  const minView = kind === "pbft-primary-blackhole" ? 1 : 0;
  for (const { decision } of decisions) {
    const views = decision.votes.map((v) => (v.body as { view?: number }).view ?? -1);
    if (decision.votes.length < 3 || views.some((v) => v < minView))
      problems.push(
        `${decision.proposal.id}: certificate ${decision.votes.map((v) => `${v.from}@${(v.body as { view?: number }).view}`).join(", ")}, expected 3 commits of a view ≥ ${minView}`,
      );
    if (minView > 0 && decision.votes.some((v) => v.from === "alice"))
      problems.push(`${decision.proposal.id}: the black-holed primary is in the certificate`);
    const digests = new Set<string>();
    for (const node of nodes.values()) {
      for (const line of node.lines) {
        if (line.type === "consensus.committed" && line["proposal"] === decision.proposal.id)
          digests.add(String(line["digest"]));
      }
    }
    if (digests.size > 1)
      problems.push(`${decision.proposal.id}: replicas committed ${digests.size} digests`);
  }
}

/**
 * One decision per proposal in the store's audit log, the log verified with
 * the agents' keys here, and by `conclave audit verify` from the store alone.
 */
async function checkAuditLog(
  swarm: string,
  storePath: string,
  expected: number,
  problems: string[],
): Promise<boolean> {
  const store = openSqliteStore({ path: storePath });
  let ok = true;
  try {
    const log = await readAuditLog(store);
    const byProposal = new Map<string, Set<string>>();
    for (const record of log) {
      const decision = record.data as Partial<Decision> | undefined;
      const id = decision?.proposal?.id;
      if (typeof id !== "string") continue;
      const outcomes = byProposal.get(id) ?? new Set<string>();
      outcomes.add(`${decision?.outcome}`);
      byProposal.set(id, outcomes);
      if (outcomes.size > 1) {
        ok = false;
        problems.push(`proposal ${id} has two outcomes in the audit log: ${[...outcomes]}`);
      }
    }
    const sealedCount = log.filter(
      (r) => typeof (r.data as Partial<Decision>)?.proposal?.id === "string",
    ).length;
    if (sealedCount !== expected || byProposal.size !== expected) {
      ok = false;
      problems.push(
        `the audit log holds ${sealedCount} decisions on ${byProposal.size} proposals, expected ${expected}`,
      );
    }
    const verdict = verifyAuditLog(log, {
      privileged: PRIVILEGED,
      roles: ["council"],
      registry: new Map(VOTERS.map((id) => [id, encodePublicKey(agentKeys(swarm, id).publicKey)])),
    });
    if (!verdict.ok) {
      ok = false;
      problems.push(`audit log entry ${verdict.seq}: ${verdict.reason}`);
    }
  } finally {
    await store.close();
  }
  const cli = await finish(
    start(["audit", "verify", "--store", `sqlite:${storePath}`, "--json"], tmpdir()),
  );
  const line = jsonLines(cli.stdout)[0];
  if (cli.code !== 0 || line?.["ok"] !== true) {
    ok = false;
    problems.push(`conclave audit verify: exit ${cli.code} ${cli.stdout.trim()} ${cli.stderr}`);
  }
  return ok;
}

const natsMissing = () => (natsServerAvailable() ? undefined : "no nats-server binary on PATH");

/** The two scenarios, for scenarios/index.ts. */
export const partitionScenarios: readonly Scenario[] = [
  {
    name: "pbft-primary-blackhole",
    what: "PBFT over 4 processes: the process of view 0's primary black-holed around each of 3 rounds; each must be approved after a view change, one sealed decision each",
    missing: natsMissing,
    plan: () => [],
    run: (seed, log) => runPartition("pbft-primary-blackhole", seed, log),
  },
  {
    name: "pbft-primary-midround",
    what: "PBFT over 4 processes: the process of view 0's primary black-holed 0-150 ms after each of 3 proposals, mid-round: approved (in view 0 or after a view change), one sealed decision each, one digest",
    missing: natsMissing,
    plan: () => [],
    run: (seed, log) => runPartition("pbft-primary-midround", seed, log),
  },
  {
    name: "quorum-split",
    what: "a quorum round (3 of 4) with its voters split 2/2 across processes by a black hole longer than the deadline, proposed from both sides: no-quorum, never two outcomes",
    missing: natsMissing,
    plan: () => [],
    run: (seed, log) => runPartition("quorum-split", seed, log),
  },
];
