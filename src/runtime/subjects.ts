/**
 * Where each kind of message travels, from the swarm name. Documented in
 * docs/PROTOCOL.md ("Subjects"); a client in another language builds the
 * same strings.
 */
export const subjects = Object.freeze({
  /** A durable task for a role: `<swarm>.task.<role>.<task>`. */
  task: (swarm: string, role: string, task: string) => `${swarm}.task.${role}.${task}`,
  /** Every task of a role (the role queue's filter). */
  roleTasks: (swarm: string, role: string) => `${swarm}.task.${role}.>`,
  /** A fan-out event: `<swarm>.event.<type>`. */
  event: (swarm: string, type: string) => `${swarm}.event.${type}`,
  /** Dead letters of a role queue, or of a kind of bad input: `<swarm>.dlq.<name>`. */
  deadLetter: (swarm: string, name: string) => `${swarm}.dlq.${name}`,
  allDeadLetters: (swarm: string) => `${swarm}.dlq.>`,
  /** Agent cards and heartbeats. */
  heartbeat: (swarm: string) => `${swarm}.registry.heartbeat`,
  leave: (swarm: string) => `${swarm}.registry.leave`,
  /** Requests routed to one agent. */
  agentRequest: (swarm: string, agentId: string) => `${swarm}.agent.${agentId}.request`,
});

/** Durable queue names. */
export const queueNames = Object.freeze({
  role: (swarm: string, role: string) => `${swarm}-task-${role}`,
  deadLetters: (swarm: string) => `${swarm}-dlq`,
});

/** Envelope type of a task named `name` (as listed under a role's `tasks`). */
export const taskType = (name: string) => `task.${name}`;

/** The task name inside an envelope type `task.<name>`, or undefined. */
export function taskName(type: string): string | undefined {
  return type.startsWith("task.") ? type.slice(5) : undefined;
}
