import { redactUrl } from "../config/redact.js";
import { agentAccount, operations } from "../ledger/index.js";
import type { Store } from "../store/port.js";
import { ulid } from "../wire/ulid.js";
import { openStoreTarget, type StoreTarget } from "./store-target.js";

/** The report `conclave ledger show` prints. */
export interface LedgerReport {
  readonly accounts: { account: string; balance: number }[];
  readonly escrow: number;
  readonly spendByAgent: Record<string, number>;
  readonly spendByModel: Record<string, number>;
  readonly minted: number;
  readonly sum: number;
  readonly negative: string[];
  readonly consistent: boolean;
}

export async function ledgerReport(store: Store): Promise<LedgerReport> {
  const balances = await store.balances();
  const check = await store.ledgerCheck();
  const spendByAgent: Record<string, number> = {};
  const spendByModel: Record<string, number> = {};
  for (const op of await store.ledgerOperations({ kind: "fee", limit: 1_000_000 })) {
    const debit = op.entries.find((e) => e.delta < 0);
    if (!debit) continue;
    const agent = debit.account.replace(/^agent:/, "");
    spendByAgent[agent] = (spendByAgent[agent] ?? 0) - debit.delta;
    const model =
      typeof op.memo["model"] === "string" ? op.memo["model"] : String(op.memo["kind"] ?? "other");
    spendByModel[model] = (spendByModel[model] ?? 0) - debit.delta;
  }
  return {
    accounts: balances.filter((b) => b.account !== "world"),
    escrow: balances
      .filter((b) => b.account.startsWith("escrow:"))
      .reduce((s, b) => s + b.balance, 0),
    spendByAgent,
    spendByModel,
    minted: check.minted,
    sum: check.sum,
    negative: check.negative,
    consistent:
      check.sum === check.minted &&
      check.negative.length === 0 &&
      check.mismatched.length === 0 &&
      check.unbalanced.length === 0,
  };
}

/** `conclave ledger show`: never creates a store. Exit 0 when the ledger is consistent, 1 otherwise. */
export async function showLedger(target: StoreTarget, json: boolean): Promise<number> {
  const { store, resolved } = await openStoreTarget(target, { create: false });
  try {
    const r = await ledgerReport(store);
    if (json) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
    } else {
      const where = target.store || !target.swarm ? redactUrl(resolved.url) : target.swarm;
      const lines = [
        `ledger of ${where}: ${r.consistent ? "consistent" : "INCONSISTENT"}`,
        `  minted ${r.minted}, sum of accounts ${r.sum}, in escrow ${r.escrow}`,
        "  accounts",
      ];
      for (const a of r.accounts.filter(
        (a) => !a.account.startsWith("escrow:") || a.balance !== 0,
      )) {
        lines.push(`    ${a.account.padEnd(28)}${a.balance}`);
      }
      lines.push("  spend by agent");
      for (const [agent, n] of Object.entries(r.spendByAgent).sort())
        lines.push(`    ${agent.padEnd(28)}${n}`);
      lines.push("  spend by model");
      for (const [model, n] of Object.entries(r.spendByModel).sort())
        lines.push(`    ${model.padEnd(28)}${n}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    return r.consistent ? 0 : 1;
  } finally {
    await store.close();
  }
}

/** `conclave ledger fund <agent> <amount>`: mints credits to an agent (a halted agent resumes). */
export async function fundAgent(
  target: StoreTarget,
  agent: string,
  amount: string,
  json: boolean,
): Promise<number> {
  // Funding before a swarm's first run is allowed, so this one may create the store.
  const { store } = await openStoreTarget(target, { create: true });
  try {
    const id = `fund:${ulid()}`;
    await store.applyLedgerOperation(operations.mint(id, agentAccount(agent), amount, Date.now()));
    const balance = await store.balance(agentAccount(agent));
    process.stdout.write(
      json
        ? `${JSON.stringify({ agent, operation: id, balance })}\n`
        : `funded ${agent}: balance ${balance}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
