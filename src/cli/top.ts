/**
 * `conclave top --swarm FILE`: a live table of a swarm that runs on a
 * broker, in the terminal — what the dashboard's top cards and agents tab
 * show, redrawn every second (or printed once with `--once`). Like the
 * dashboard, it watches from a node that hosts no agent.
 */
import { type AgentRow, DashboardApi } from "../dashboard/api.js";
import { ConfigError, toError } from "../errors/index.js";
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

/**
 * `text` with its control characters (C0, DEL, C1) written out as `\xNN`:
 * agents' cards (role, node, team) come from the bus, and an escape sequence
 * in one would otherwise drive the terminal (clear it, retitle it, write the
 * clipboard) instead of being shown.
 */
export function visible(text: string): string {
  let shown = "";
  for (const c of text) {
    const code = c.charCodeAt(0);
    const control = code < 0x20 || (code >= 0x7f && code <= 0x9f);
    shown += control ? `\\x${code.toString(16).padStart(2, "0")}` : c;
  }
  return shown;
}

/** Where an agent stands: `research<lead-1` (member of research under lead-1), `>research` (leads it), or both. */
export function teamColumn(a: Pick<AgentRow, "team" | "lead" | "leads">): string {
  const member = a.team === undefined ? "" : `${a.team}<${a.lead ?? "?"}`;
  const leads = (a.leads ?? []).map((t) => `>${t}`).join(",");
  return [member, leads].filter((p) => p !== "").join(" ") || "–";
}

/** The snapshot as text: a header of totals, then one line per agent. */
export function renderTop(overview: Overview, agents: readonly AgentRow[], color: boolean): string {
  const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  // Coloured by the state itself, then padded: a padded "alive " matched no state and showed red.
  const state = (s: string, width: number) => {
    const shown = visible(s).padEnd(width);
    return s === "alive" || s === "active"
      ? paint(32, shown)
      : s === "suspect" || s === "draining"
        ? paint(33, shown)
        : paint(31, shown);
  };
  const o = overview;
  const lines = [
    `${paint(1, `conclave top — ${visible(o.swarm)}`)} (${visible(o.transport ?? "")})  ${new Date(o.at).toLocaleTimeString()}`,
    `agents ${o.agents.alive}/${o.agents.declared} alive   tasks ${o.tasks.completed} completed, ${o.tasks.deadLettered} dead-lettered   decisions ${o.decisions}   auctions ${o.auctions.held} (${o.auctions.awarded} awarded)   model calls ${o.llm.calls} (${o.llm.credits} credits)`,
    "",
    paint(
      2,
      `${"AGENT".padEnd(20)} ${"ROLE".padEnd(14)} ${"LIVENESS".padEnd(9)} ${"STATUS".padEnd(9)} ${"BALANCE".padStart(10)} ${"REP".padStart(5)}  ${"TEAM".padEnd(20)} NODE`,
    ),
  ];
  for (const a of agents) {
    lines.push(
      `${visible(a.id).padEnd(20)} ${visible(a.role).padEnd(14)} ${state(a.liveness, 9)} ${state(a.status, 9)} ${String(a.balance ?? "–").padStart(10)} ${(a.reputation === undefined ? "–" : a.reputation.toFixed(2)).padStart(5)}  ${visible(teamColumn(a)).padEnd(20)} ${visible(a.node ?? "")}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** What the redraw loop reads and where it writes: the swarm and the terminal, or a test's stand-ins. */
export interface TopScreen {
  /** One snapshot of the swarm: what the dashboard's top cards and agents tab show. */
  read(): Promise<{ overview: Overview; agents: readonly AgentRow[] }>;
  /** Standard output: a snapshot. */
  write(text: string): void;
  /** Standard error: what went wrong meanwhile. */
  warn(text: string): void;
  /** Resolves when the user stops the loop (SIGINT, SIGTERM). */
  readonly stopped: Promise<void>;
}

/**
 * Redraws `screen` every `intervalSeconds` until it is stopped (or once).
 * With `color`, snapshots are coloured; with `live`, each clears the screen.
 */
export async function redrawTop(
  screen: TopScreen,
  options: TopOptions & { readonly color: boolean; readonly live: boolean },
): Promise<void> {
  // Cleared when a signal ends the wait first: it would hold the process open.
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      const tick = new Promise<"tick">((resolve) => {
        timer = setTimeout(() => resolve("tick"), options.intervalSeconds * 1000);
      });
      if ((await Promise.race([tick, screen.stopped])) !== "tick") break;
      let snapshot: Awaited<ReturnType<TopScreen["read"]>>;
      try {
        snapshot = await screen.read();
      } catch (error) {
        // One failed read (a store restarting) must not end a watch meant to run for hours.
        if (options.once) throw error;
        screen.warn(
          `top: reading the swarm failed (${toError(error).message}); trying again in ${options.intervalSeconds} s\n`,
        );
        continue;
      }
      const { overview, agents } = snapshot;
      if (options.json) screen.write(`${JSON.stringify({ overview, agents })}\n`);
      else {
        const clear = options.live ? "\x1b[H\x1b[2J" : "";
        screen.write(`${clear}${renderTop(overview, agents, options.color)}`);
      }
      if (options.once) break;
    }
  } finally {
    clearTimeout(timer);
  }
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
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await redrawTop(
      {
        read: async () => {
          const [overview, agents] = await Promise.all([api.overview(), api.agents()]);
          return { overview, agents };
        },
        write: (text) => process.stdout.write(text),
        warn: (text) => process.stderr.write(text),
        stopped,
      },
      {
        ...options,
        color: !options.json && useColor(process.stdout),
        live: process.stdout.isTTY === true && !options.once && !options.json,
      },
    );
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await swarm.close();
  }
  return 0;
}
