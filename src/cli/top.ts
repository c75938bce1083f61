/**
 * `conclave top --swarm FILE`: a live table of a swarm that runs on a
 * broker, in the terminal — what the dashboard's top cards and agents tab
 * show, redrawn every second (or printed once with `--once`). Like the
 * dashboard, it watches from a node that hosts no agent.
 */
import { type AgentRow, DashboardApi } from "../dashboard/api.js";
import { ConfigError } from "../errors/index.js";
import { openSwarm } from "../runtime/from-config.js";
import { loadBrokerSwarm } from "./broker-swarm.js";
import { MAX_TIMER_SECONDS } from "./cli-options.js";
import { useColor } from "./progress.js";

export interface TopOptions {
  readonly transport?: string;
  readonly store?: string;
  /** Seconds between redraws. */
  readonly intervalSeconds: number;
  /** Print one snapshot (after hearing the agents for `intervalSeconds`) and exit. */
  readonly once: boolean;
  readonly json: boolean;
}

type Overview = Awaited<ReturnType<DashboardApi["overview"]>>;

/** Where an agent stands: `research<lead-1` (member of research under lead-1), `>research` (leads it), or both. */
export function teamColumn(a: Pick<AgentRow, "team" | "lead" | "leads">): string {
  const member = a.team === undefined ? "" : `${a.team}<${a.lead ?? "?"}`;
  const leads = (a.leads ?? []).map((t) => `>${t}`).join(",");
  return [member, leads].filter((p) => p !== "").join(" ") || "–";
}

/** The snapshot as text: a header of totals, then one line per agent. */
export function renderTop(overview: Overview, agents: readonly AgentRow[], color: boolean): string {
  const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const state = (s: string) =>
    s === "alive" || s === "active"
      ? paint(32, s)
      : s === "suspect" || s === "draining"
        ? paint(33, s)
        : paint(31, s);
  const o = overview;
  const lines = [
    `${paint(1, `conclave top — ${o.swarm}`)} (${o.transport})  ${new Date(o.at).toLocaleTimeString()}`,
    `agents ${o.agents.alive}/${o.agents.declared} alive   tasks ${o.tasks.completed} completed, ${o.tasks.deadLettered} dead-lettered   decisions ${o.decisions}   auctions ${o.auctions.held} (${o.auctions.awarded} awarded)   model calls ${o.llm.calls} (${o.llm.credits} credits)`,
    "",
    paint(
      2,
      `${"AGENT".padEnd(20)} ${"ROLE".padEnd(14)} ${"LIVENESS".padEnd(9)} ${"STATUS".padEnd(9)} ${"BALANCE".padStart(10)} ${"REP".padStart(5)}  ${"TEAM".padEnd(20)} NODE`,
    ),
  ];
  for (const a of agents) {
    lines.push(
      `${a.id.padEnd(20)} ${a.role.padEnd(14)} ${state(a.liveness.padEnd(9))} ${state(a.status.padEnd(9))} ${String(a.balance ?? "–").padStart(10)} ${(a.reputation === undefined ? "–" : a.reputation.toFixed(2)).padStart(5)}  ${teamColumn(a).padEnd(20)} ${a.node ?? ""}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Watches the swarm until SIGINT/SIGTERM (or once). Exit 0. */
export async function showTop(file: string, options: TopOptions): Promise<number> {
  // A longer timer would fire after 1 ms: a redraw loop, not a slow one.
  if (options.intervalSeconds > MAX_TIMER_SECONDS) {
    throw new ConfigError(`--interval is at most ${MAX_TIMER_SECONDS} seconds (about 24 days)`);
  }
  const config = await loadBrokerSwarm(file, options, "watch it with `conclave up --dashboard`");
  // An observer reads the store the swarm made; it never creates one.
  const swarm = await openSwarm(config, { agents: [], createStore: false });
  await swarm.start();
  const api = new DashboardApi(swarm, config);
  const color = !options.json && useColor(process.stdout);
  const live = process.stdout.isTTY === true && !options.once && !options.json;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  // Cleared when a signal ends the wait first: it would hold the process open.
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      const tick = new Promise<"tick">((resolve) => {
        timer = setTimeout(() => resolve("tick"), options.intervalSeconds * 1000);
      });
      if ((await Promise.race([tick, stopped])) !== "tick") break;
      const [overview, agents] = await Promise.all([api.overview(), api.agents()]);
      if (options.json) process.stdout.write(`${JSON.stringify({ overview, agents })}\n`);
      else
        process.stdout.write(`${live ? "\x1b[H\x1b[2J" : ""}${renderTop(overview, agents, color)}`);
      if (options.once) break;
    }
  } finally {
    clearTimeout(timer);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await swarm.close();
  }
  return 0;
}
