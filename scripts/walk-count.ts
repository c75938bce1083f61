/**
 * Counts the source files a delegated task and a vote pass through, the
 * measure of issue 11's "done when": V8's precise coverage (call counts per
 * function) is reset after a warm-up, one task (or one round) is run, and
 * every file under `src/` with a function called since is listed.
 *
 *   npx tsx scripts/walk-count.ts [--list] [--json]
 *
 * The task walk: agent `lead`'s handler delegates `work` to role `dev`,
 * whose handler finishes it; the walk ends when the store records the
 * completion. The vote walk: `swarm.propose` on a quorum of four voters,
 * sealed, then the audit chain verified as `conclave audit verify` does.
 * Heartbeats and other timers that fire during a walk are counted too; the
 * walks are short (a few milliseconds) and heartbeats are set to a minute
 * so they do not.
 */
import { Session } from "node:inspector/promises";
import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(import.meta.url), "../..");
const args = new Set(process.argv.slice(2));

const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.startPreciseCoverage", { callCount: true, detailed: false });

interface ScriptCoverage {
  readonly url: string;
  readonly functions: readonly { readonly ranges: readonly { readonly count: number }[] }[];
}

/** Files under src/ with a function called since the last take. */
async function filesCalled(): Promise<string[]> {
  const { result } = (await session.post("Profiler.takePreciseCoverage")) as unknown as {
    result: ScriptCoverage[];
  };
  const files = new Set<string>();
  for (const script of result) {
    if (!script.url.startsWith("file://")) continue;
    const path = relative(root, fileURLToPath(script.url));
    if (!path.startsWith("src/")) continue;
    if (script.functions.some((f) => (f.ranges[0]?.count ?? 0) > 0)) files.add(path);
  }
  return [...files].sort();
}

const { createTestSwarm } = await import("../src/testkit/index.js");
// Read loosely: before issue 11, the module had no verifyStoredAuditLog.
const audit = (await import("../src/runtime/consensus/audit-log.js")) as unknown as Record<
  string,
  (...args: unknown[]) => Promise<{ ok: boolean; reason?: string }>
>;

const defaults = {
  heartbeatMs: 60_000,
  ackWaitMs: 5000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

async function until(check: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > 10_000)
      throw new Error("walk-count: the walk did not finish in 10 s");
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function taskWalk(): Promise<string[]> {
  const t = createTestSwarm({
    roles: { lead: { tasks: ["plan"] }, dev: { tasks: ["work"] } },
    defaults,
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "lead-1", role: "lead" }).handle("plan", async (ctx) => {
      // An unmetered agent: the delegation is a signed submit, no escrow.
      await ctx.delegate("dev", "work", ctx.body, { budget: 10 });
    });
    swarm.agent({ id: "dev-1", role: "dev" }).handle("work", (ctx) => ctx.finish({ ok: true }));
    await swarm.start();
    const done = new Set<string>();
    swarm.on((e) => {
      if (e.type === "task.completed" && e.task === "work") done.add(e.id);
    });
    const run = async (n: number) => {
      const before = done.size;
      await swarm.submit("lead", "plan", { n }, { as: "lead-1" });
      await until(async () => done.size > before);
    };
    await run(0);
    await run(1);
    await filesCalled();
    await run(2);
    return await filesCalled();
  } finally {
    await t.cleanup();
  }
}

async function voteWalk(): Promise<string[]> {
  const voters = ["lead", "dev", "security", "finance"];
  const t = createTestSwarm({
    roles: { lead: {}, dev: {}, security: {}, finance: {}, ops: { tasks: ["funds.transfer"] } },
    defaults,
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 3 },
        voters,
        deadlineMs: 5000,
      },
    },
  });
  try {
    const { swarm } = t;
    for (const role of voters) swarm.agent({ id: `${role}-1`, role });
    swarm.agent({ id: "ops-1", role: "ops" });
    await swarm.start();
    const round = async (amount: number) => {
      await swarm.propose("funds.transfer", { to: "dev-1", amount }, { as: "dev-1" });
      const verify = audit.verifyStoredAuditLog
        ? await audit.verifyStoredAuditLog(swarm.store)
        : await audit.verifyAuditLog?.(await audit.readAuditLog?.(swarm.store));
      if (verify === undefined) throw new Error("walk-count: no audit verifier found");
      if (!verify.ok)
        throw new Error(`walk-count: the audit chain did not verify: ${verify.reason}`);
    };
    await round(1);
    await round(2);
    await filesCalled();
    await round(3);
    return await filesCalled();
  } finally {
    await t.cleanup();
  }
}

const walks = { task: await taskWalk(), vote: await voteWalk() };
if (args.has("--json")) {
  console.log(JSON.stringify({ task: walks.task.length, vote: walks.vote.length, files: walks }));
} else {
  for (const [name, files] of Object.entries(walks)) {
    console.log(`${name} walk: ${files.length} files`);
    if (args.has("--list")) for (const file of files) console.log(`  ${file}`);
  }
}
session.disconnect();
process.exit(0);
