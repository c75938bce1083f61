import type { SwarmEvent } from "./events.js";

/**
 * Counters of what a node observed, named the Prometheus way
 * (`conclave_*_total`). Fed from the swarm's events, so every rejected or
 * dead-lettered message is counted whatever its path.
 */
export class SwarmMetrics {
  readonly #counters = new Map<string, number>();

  observe(event: SwarmEvent): void {
    switch (event.type) {
      case "task.submitted":
        this.#inc("conclave_tasks_submitted_total", { role: event.role, task: event.task });
        break;
      case "task.completed":
        this.#inc("conclave_tasks_completed_total", { agent: event.agent, task: event.task });
        break;
      case "task.failed":
        this.#inc("conclave_tasks_failed_total", {
          agent: event.agent,
          task: event.task,
          retry: String(event.willRetry),
        });
        break;
      case "task.duplicate":
        this.#inc("conclave_tasks_duplicate_total", { agent: event.agent });
        break;
      case "task.dead_lettered":
        this.#inc("conclave_tasks_dead_lettered_total", {});
        break;
      case "message.rejected":
        this.#inc("conclave_messages_rejected_total", { code: event.code });
        break;
      case "agent.crashed":
        this.#inc("conclave_agent_crashes_total", { agent: event.agent });
        break;
      case "agent.joined":
      case "agent.suspect":
      case "agent.left":
        this.#inc("conclave_registry_events_total", { event: event.type });
        break;
      case "error":
        this.#inc("conclave_errors_total", {});
        break;
      default:
        break;
    }
  }

  /** The value of one counter series; 0 if never counted. */
  get(name: string, labels: Record<string, string> = {}): number {
    return this.#counters.get(seriesKey(name, labels)) ?? 0;
  }

  /** Sum of a counter over all its label sets. */
  total(name: string): number {
    let sum = 0;
    for (const [key, value] of this.#counters) {
      if (key === name || key.startsWith(`${name}{`)) sum += value;
    }
    return sum;
  }

  /** The Prometheus text exposition format. */
  render(): string {
    const lines: string[] = [];
    const seen = new Set<string>();
    for (const key of [...this.#counters.keys()].sort()) {
      const name = key.split("{")[0] as string;
      if (!seen.has(name)) {
        seen.add(name);
        lines.push(`# TYPE ${name} counter`);
      }
      lines.push(`${key} ${this.#counters.get(key)}`);
    }
    return `${lines.join("\n")}\n`;
  }

  #inc(name: string, labels: Record<string, string>): void {
    const key = seriesKey(name, labels);
    this.#counters.set(key, (this.#counters.get(key) ?? 0) + 1);
  }
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return name;
  const body = entries
    .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`))}"`)
    .join(",");
  return `${name}{${body}}`;
}
