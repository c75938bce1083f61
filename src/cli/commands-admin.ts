/**
 * The commands that read a swarm's store or manage its members: `ledger`,
 * `audit`, `results`, `tasks`, `report`, `keys`, `admit`, `revoke`, `doctor`.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { admitAgent, revokeAgent } from "./admission.js";
import { showAuditHead, verifyAudit } from "./audit.js";
import {
  agentId,
  agentIds,
  nonEmpty,
  positiveDecimal,
  type StoreTargetOptions,
  storeTarget,
  transportUrl,
  withStoreTarget,
} from "./cli-options.js";
import { runDoctor } from "./doctor.js";
import { generateKeys } from "./keys.js";
import { fundAgent, showLedger } from "./ledger.js";
import { showResults } from "./results.js";
import { showRoi } from "./roi.js";
import { showTask } from "./tasks.js";

interface AdmitCliOptions {
  swarm: string;
  role: string;
  key: string;
  operatorKey: string;
  ttl: string;
  weight?: number;
  owner?: string;
  out?: string;
}

/** Adds the commands that read a store or manage a swarm's members to `cli`. */
export function adminCommands(cli: Command): void {
  const ledger = cli.command("ledger").description("the swarm's credit ledger");
  withStoreTarget(
    ledger
      .command("show")
      .description(
        "accounts, escrow, spend per agent, role and model, model calls and cost per completed task; exit 1 if the ledger is inconsistent; never creates a store",
      ),
  )
    .option("--json", "print the report as JSON (with minted and sum)", false)
    .option("--all", "list escrow accounts that hold nothing too (settled delegations)", false)
    .action(async (opts: StoreTargetOptions & { json: boolean; all: boolean }) => {
      process.exitCode = await showLedger(storeTarget(opts), opts.json, opts.all);
    });
  withStoreTarget(
    ledger
      .command("fund")
      .description(
        "mint credits to an agent; a halted agent resumes (with --swarm, creates the store if the swarm has not run yet; a --store alone must exist)",
      )
      .argument("<agent>", "agent id")
      .argument("<amount>", "whole credits"),
  )
    .option("--json", "print the result as JSON", false)
    .action(async (agent: string, amount: string, opts: StoreTargetOptions & { json: boolean }) => {
      process.exitCode = await fundAgent(storeTarget(opts), agent, amount, opts.json);
    });

  const audit = cli.command("audit").description("the audit log of consensus decisions");
  withStoreTarget(
    audit
      .command("verify")
      .description(
        "recompute every decision offline (signatures, tallies, seals, links); exit 1 naming the first bad entry; never creates a store",
      ),
    "take the store from this swarm file, and check its privileged rules",
  )
    .option("--json", "print the verdict as JSON", false)
    .option(
      "--head <file>",
      "also check against this signed head (conclave audit head --json); repeatable",
      (file: string, files: string[]) => [...files, file],
      [] as string[],
    )
    .option("--require-signed", "refuse decisions logged before seals were signed", false)
    .action(
      async (
        opts: StoreTargetOptions & { json: boolean; head: string[]; requireSigned: boolean },
      ) => {
        process.exitCode = await verifyAudit(storeTarget(opts), {
          json: opts.json,
          heads: opts.head,
          requireSigned: opts.requireSigned,
        });
      },
    );
  withStoreTarget(
    audit
      .command("head")
      .description(
        "print the latest signed head of the audit log (keep it outside the store: audit verify --head checks a log against it); exit 1 if there is none",
      ),
  )
    .option("--json", "print the head as JSON (the file audit verify --head reads)", false)
    .action(async (opts: StoreTargetOptions & { json: boolean }) => {
      process.exitCode = await showAuditHead(storeTarget(opts), opts.json);
    });

  withStoreTarget(
    cli
      .command("results")
      .description(
        "what each root task was finished with (ctx.finish), or why it was dead-lettered, or that it is pending; never creates a store",
      ),
  )
    .option("--root <id>", "only this root task (exit 1 if the store has no such root)")
    .option("--json", "one JSON object per root task", false)
    .action(async (opts: StoreTargetOptions & { root?: string; json: boolean }) => {
      process.exitCode = await showResults(storeTarget(opts), {
        json: opts.json,
        ...(opts.root === undefined ? {} : { root: opts.root }),
      });
    });

  const tasks = cli.command("tasks").description("the swarm's tasks, as its store recorded them");
  withStoreTarget(
    tasks
      .command("show")
      .description(
        "one task: its outcome and result, its root and (for a root) every task it caused, steps, effects, dead letter, attempts and the ledger operations charged to it; exit 1 if the store has no such task; never creates a store",
      )
      .argument("<id>", "the task id (a root id from conclave results, or any task's)"),
  )
    .option("--json", "print the task as one JSON object", false)
    .action(async (id: string, opts: StoreTargetOptions & { json: boolean }) => {
      process.exitCode = await showTask(storeTarget(opts), id, opts.json);
    });

  const report = cli.command("report").description("reports measured from a swarm's store");
  withStoreTarget(
    report
      .command("roi")
      .description(
        "per ensemble task type and per model: accuracy against ground truth, calls and credits per task; never creates a store",
      ),
  )
    .option("--json", "print the report as JSON", false)
    .action(async (opts: StoreTargetOptions & { json: boolean }) => {
      process.exitCode = await showRoi(storeTarget(opts), opts.json);
    });

  const keys = cli.command("keys").description("manage agent key pairs");
  keys
    .command("gen")
    .description("generate Ed25519 key pairs for agents (files with mode 0600)")
    .argument("<agent-ids...>", "agent ids", agentIds)
    .option("--dir <dir>", "key folder", nonEmpty, ".conclave/keys")
    .option("--force", "overwrite existing keys", false)
    .option("--json", "print the public keys as JSON", false)
    .action(async (ids: string[], opts: { dir: string; force: boolean; json: boolean }) => {
      process.exitCode = await generateKeys(ids, {
        dir: resolve(opts.dir),
        force: opts.force,
        json: opts.json,
      });
    });

  cli
    .command("admit")
    .description(
      "issue a membership credential for an agent, signed with the operator's key (admission: credential)",
    )
    .argument("<agent>", "agent id")
    .requiredOption("--swarm <file>", "the swarm file")
    .requiredOption("--role <role>", "the role the credential grants")
    .requiredOption("--key <publicKey>", "the agent's base64url public key (conclave keys gen)")
    .requiredOption("--operator-key <file>", "the operator's key file")
    .option("--ttl <duration>", "how long it is valid: 30d, 12h, 45m…", "30d")
    .option("--weight <n>", "vote weight granted", positiveDecimal)
    .option("--owner <owner>", "who operates the agent")
    .option("--out <file>", "write the credential here (mode 0600) instead of stdout")
    .action(async (agent: string, opts: AdmitCliOptions) => {
      process.exitCode = await admitAgent(agent, {
        swarm: resolve(opts.swarm),
        role: opts.role,
        key: opts.key,
        operatorKey: resolve(opts.operatorKey),
        ttl: opts.ttl,
        ...(opts.weight === undefined ? {} : { weight: opts.weight }),
        ...(opts.owner === undefined ? {} : { owner: opts.owner }),
        ...(opts.out === undefined ? {} : { out: resolve(opts.out) }),
      });
    });

  cli
    .command("revoke")
    .description(
      "revoke an agent with the operator's key: every node refuses it from now on, its host stops it; recorded in the audit log",
    )
    .argument("<agent>", "agent id", agentId)
    .requiredOption("--swarm <file>", "the swarm file (its transport, store and operator key)")
    .requiredOption("--operator-key <file>", "the operator's key file")
    .option("--reason <text>", "why, for the audit log")
    .option("--json", "print the result as JSON", false)
    .action(
      async (
        agent: string,
        opts: { swarm: string; operatorKey: string; reason?: string; json: boolean },
      ) => {
        process.exitCode = await revokeAgent(agent, {
          swarm: resolve(opts.swarm),
          operatorKey: resolve(opts.operatorKey),
          json: opts.json,
          ...(opts.reason ? { reason: opts.reason } : {}),
        });
      },
    );

  cli
    .command("doctor")
    .description(
      "check this machine can run a swarm: Node version, SQLite, the swarm file, its store (opened, never created) and its broker",
    )
    .option("--swarm <file>", "the swarm file to check against", nonEmpty)
    .option(
      "--store <url>",
      "check this store instead of the file's (Postgres: the database exists and its schema is usable; nothing is created)",
      nonEmpty,
    )
    .option("--transport <url>", "check this broker instead of the file's", transportUrl)
    .option("--json", "print the checks as JSON", false)
    .action(async (opts: { swarm?: string; store?: string; transport?: string; json: boolean }) => {
      process.exitCode = await runDoctor({
        ...(opts.swarm ? { swarm: resolve(opts.swarm) } : {}),
        ...(opts.store ? { store: opts.store } : {}),
        ...(opts.transport ? { transport: opts.transport } : {}),
        json: opts.json,
      });
    });
}
