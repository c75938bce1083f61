import type { RegistryEvent } from "../registry/registry-view.js";

/**
 * What a swarm reports about itself, for progress views, logs and metrics.
 * These are local observations of one node, not messages on the bus.
 */
export type SwarmEvent =
  | {
      readonly type: "task.submitted";
      readonly id: string;
      readonly role: string;
      readonly task: string;
    }
  | {
      readonly type: "task.completed";
      readonly id: string;
      readonly agent: string;
      readonly task: string;
      readonly durationMs: number;
      readonly attempt: number;
    }
  | {
      readonly type: "task.failed";
      readonly id: string;
      readonly agent: string;
      readonly task: string;
      readonly attempt: number;
      readonly error: string;
      /** False when this was the last allowed delivery or the error was permanent. */
      readonly willRetry: boolean;
    }
  | { readonly type: "task.duplicate"; readonly id: string; readonly agent: string }
  | {
      readonly type: "task.dead_lettered";
      readonly id: string;
      readonly subject: string;
      readonly reason: string;
      readonly deliveries: number;
    }
  | {
      readonly type: "message.rejected";
      readonly subject: string;
      readonly code: string;
      readonly reason: string;
    }
  | RegistryEvent
  | { readonly type: "agent.trusted"; readonly agent: string }
  | {
      readonly type: "agent.halted";
      readonly agent: string;
      readonly balance: number;
      readonly minBalance: number;
    }
  | { readonly type: "agent.resumed"; readonly agent: string; readonly balance: number }
  | {
      readonly type: "agent.crashed";
      readonly agent: string;
      readonly error: string;
      readonly restart: number;
    }
  | { readonly type: "agent.gave_up"; readonly agent: string; readonly error: string }
  | { readonly type: "error"; readonly error: string };

export type SwarmEventListener = (event: SwarmEvent) => void;
