import type { SwarmEvent, SwarmEventListener } from "./events.js";
import { SwarmMetrics } from "./metrics.js";
import type { EventSink } from "./node-context.js";

/**
 * Where a node's events go: counted in its metrics, then handed to every
 * listener. A listener that throws (or an async one that rejects) is
 * ignored: it must not break the swarm.
 */
export class EventHub implements EventSink {
  /** Counters of what this node observed (Prometheus naming). */
  readonly metrics = new SwarmMetrics();
  readonly #listeners = new Set<SwarmEventListener>();

  /** Listens to what this node observes. Returns the function that stops listening. */
  on(listener: SwarmEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: SwarmEvent): void {
    this.metrics.observe(event);
    for (const listener of this.#listeners) {
      try {
        // An async listener type-checks as one returning void: its rejection,
        // left unhandled, would end the process.
        const returned: unknown = listener(event);
        if (returned instanceof Promise) returned.catch(ignore);
      } catch {
        // A broken listener must not break the swarm.
      }
    }
  }
}

function ignore(): void {}
