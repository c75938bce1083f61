/**
 * Role slots: a role staffed by a fixed number of active agents chosen
 * optimally (the Hungarian assignment of `src/hierarchy`), with the others of
 * the role on standby, and a slot handed to the best standby when its holder
 * is halted (out of credits), leaves or gives up (crashed beyond its restart
 * limit), or its reputation falls below a floor. A slot nobody could take
 * stays vacant until a free, funded agent at or above the floor can (one
 * funded again, one that joins, or one whose reputation recovers). Each
 * change is an `agent.reassigned` event with the reason, on this node and on
 * the bus.
 *
 * Runtime side of `planReassignment` and `planVacancyFill`: it observes this node's agents and
 * events, and pauses and resumes them; the planning is pure.
 */
import { ConfigError, toError } from "../errors/index.js";
import { FORBIDDEN } from "../hierarchy/hungarian.js";
import {
  type AgentEvent,
  planReassignment,
  planVacancyFill,
  type VacantSlot,
} from "../hierarchy/reassignment.js";
import { assignRoles, type SlotAssignment } from "../hierarchy/role-assignment.js";
import {
  type AgentProfile,
  type RoleRequirement,
  type SuitabilityWeights,
  suitability,
} from "../hierarchy/suitability.js";
import type { Agent } from "./agent.js";
import type { PoolHost } from "./agent-pool.js";
import type { SwarmEvent } from "./events.js";

/** How a swarm's roles are staffed; see {@link RoleSlots}. */
export interface RoleSlotsConfig {
  /**
   * The roles to staff: `name` is a role of the swarm, `slots` how many of
   * its agents hosted here take tasks at once (default 1), `requires` and
   * `prefers` capabilities as in `assignRoles`. Only agents of the role are
   * candidates for its slots.
   */
  readonly roles: readonly RoleRequirement[];
  /** A holder whose reputation falls below this loses its slot; default 0.2. */
  readonly reputationFloor?: number;
  /** How often reputations are read from the store, ms. Default 5,000. */
  readonly intervalMs?: number;
  /** Weights of the suitability (fit, reputation, spare capacity, cost). */
  readonly weights?: SuitabilityWeights;
}

/** What role slots need from the swarm: a pool host's view, and the reputations. */
export type RoleSlotsHost = Pick<PoolHost, "clock" | "hosted" | "on" | "emit" | "announce"> & {
  /** Agents hosted here. */
  agents(): readonly Agent[];
  /** Stored reputations, in [0, 1], of the agents observed so far. */
  reputations(agents: readonly string[]): Promise<ReadonlyMap<string, number>>;
};

/**
 * Keeps each listed role staffed by its best agents. Created by
 * `swarm.slots(...)`, started and stopped with the swarm.
 *
 * @example
 * ```ts
 * swarm.slots({ roles: [{ name: "reviewer", requires: ["code_review"], slots: 2 }], reputationFloor: 0.3 });
 * swarm.on((e) => e.type === "agent.reassigned" && console.log(e.from, "→", e.to, e.reason));
 * ```
 */
export class RoleSlots {
  readonly #config: RoleSlotsConfig;
  readonly #host: RoleSlotsHost;
  readonly #roleNames: ReadonlySet<string>;
  #assignments: readonly SlotAssignment[] = [];
  #reputation = new Map<string, number>();
  #unlisten: (() => void) | undefined;
  #cancelTimer: (() => void) | undefined;
  /** Events are planned one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  #running = false;
  /** Agents halted for want of credits: they are not candidates for a slot. */
  readonly #halted = new Set<string>();
  /** Agents that left or were given up on (until they join again): not candidates. */
  readonly #gone = new Set<string>();
  /** Slots nobody holds: nobody could take them when vacated, or at start. */
  #vacant: readonly VacantSlot[] = [];

  /** @throws ConfigError on duplicate role names, a bad slot count, bad weights, floor or interval. */
  constructor(config: RoleSlotsConfig, host: RoleSlotsHost) {
    validate(config);
    this.#config = config;
    this.#host = host;
    this.#roleNames = new Set(config.roles.map((r) => r.name));
  }

  /** Who holds which slot now. */
  get assignments(): readonly SlotAssignment[] {
    return this.#assignments;
  }

  /** Assigns the slots, puts the other agents of the roles on standby, and starts watching. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.#readReputations();
    } catch (error) {
      // Not started: a later start() tries again.
      this.#running = false;
      throw error;
    }
    // Halted before the slots listened (below their minimum at start): not candidates.
    for (const agent of this.#host.agents()) {
      if (agent.isPausedFor("halted")) this.#halted.add(agent.id);
    }
    const assign = (funded: boolean) =>
      assignRoles(this.#candidates(funded), this.#config.roles, this.#options());
    // Funded agents first; a halted one holds a slot only when no funded agent can.
    let assignment = assign(true);
    if (assignment.unfilled.length > 0) assignment = assign(false);
    this.#assignments = assignment.assignments;
    this.#vacant = assignment.unfilled;
    this.#applyStandby();
    this.#unlisten = this.#host.on((event) => this.#observe(event));
    this.#schedule();
  }

  #observe(event: SwarmEvent): void {
    switch (event.type) {
      case "agent.halted":
        this.#halted.add(event.agent);
        this.#enqueue({ kind: "halted", agent: event.agent });
        break;
      case "agent.resumed":
        // Funded again: a candidate for a vacant slot (a slot another took stays taken).
        this.#halted.delete(event.agent);
        this.#enqueueFill();
        break;
      case "agent.joined":
        this.#gone.delete(event.card.id);
        this.#enqueueFill();
        break;
      case "agent.gave_up":
        this.#gone.add(event.agent);
        this.#enqueue({ kind: "left", agent: event.agent });
        break;
      case "agent.left":
        this.#gone.add(event.card.id);
        this.#enqueue({ kind: "left", agent: event.card.id });
        break;
      default:
        break;
    }
  }

  /** Stops watching; waits for a re-assignment under way. Agents keep their state. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#unlisten?.();
    this.#unlisten = undefined;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    await this.#queue;
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#cancelTimer = this.#host.clock.setTimer(() => {
      this.#queue = this.#queue.then(() => this.#checkReputations()).catch(this.#report);
      void this.#queue.finally(() => this.#schedule());
    }, this.#config.intervalMs ?? 5_000);
  }

  async #checkReputations(): Promise<void> {
    await this.#readReputations();
    for (const { agent } of this.#assignments) {
      const reputation = this.#reputation.get(agent);
      if (reputation !== undefined) this.#plan({ kind: "reputation", agent, reputation });
    }
    this.#fill();
  }

  /** Fills vacant slots after the events queued before (one of which may vacate a slot). */
  #enqueueFill(): void {
    this.#queue = this.#queue
      .then(async () => {
        if (this.#vacant.length === 0) return;
        await this.#readReputations();
        this.#fill();
      })
      .catch(this.#report);
  }

  /** Hands vacant slots to free, funded agents at or above the floor, and resumes them. */
  #fill(): void {
    if (!this.#running || this.#vacant.length === 0) return;
    const plan = planVacancyFill(
      this.#assignments,
      this.#vacant,
      this.#candidates(true),
      this.#config.roles,
      this.#planOptions(),
    );
    this.#vacant = plan.vacant;
    if (plan.filled.length === 0) return;
    this.#assignments = plan.assignments;
    this.#applyStandby();
    for (const change of plan.filled) {
      this.#host.emit({ type: "agent.reassigned", ...change });
      this.#host.announce("agent.reassigned", change);
    }
  }

  #enqueue(event: AgentEvent): void {
    if (!this.#holds(event.agent)) return;
    this.#queue = this.#queue
      .then(async () => {
        await this.#readReputations();
        this.#plan(event);
      })
      .catch(this.#report);
  }

  #plan(event: AgentEvent): void {
    if (!this.#running) return;
    const options = this.#planOptions();
    const replan = (funded: boolean) =>
      planReassignment(
        this.#assignments,
        this.#candidates(funded),
        this.#config.roles,
        event,
        options,
      );
    // Funded agents first; a halted one takes a slot only when no funded agent can.
    let plan = replan(true);
    if (plan.unfilled.length > 0) plan = replan(false);
    if (plan.reassigned.length === 0) return;
    this.#assignments = plan.assignments;
    this.#vacant = [...this.#vacant, ...plan.unfilled];
    this.#applyStandby();
    for (const change of plan.reassigned) {
      this.#host.emit({ type: "agent.reassigned", ...change });
      this.#host.announce("agent.reassigned", change);
    }
  }

  /** Holders take tasks (unless paused for another reason, as halted); the other agents of the staffed roles wait. */
  #applyStandby(): void {
    for (const agent of this.#host.agents()) {
      if (!this.#roleNames.has(agent.role)) continue;
      if (!this.#holds(agent.id)) agent.pause("standby");
      else agent.resume("standby");
    }
  }

  #holds(agentId: string): boolean {
    return this.#assignments.some((s) => s.agent === agentId);
  }

  /** The agents of the staffed roles hosted here and not gone (`funded`: nor halted), as the assignment sees them. */
  #candidates(funded: boolean): AgentProfile[] {
    return this.#host
      .agents()
      .filter(
        (a) =>
          this.#roleNames.has(a.role) &&
          !this.#gone.has(a.id) &&
          !(funded && this.#halted.has(a.id)),
      )
      .map((a) => {
        const reputation = this.#reputation.get(a.id);
        return {
          id: a.id,
          capabilities: a.card.capabilities,
          load: a.inFlight / Math.max(1, a.concurrency),
          ...(reputation === undefined ? {} : { reputation }),
        };
      });
  }

  #planOptions() {
    return {
      ...this.#options(),
      ...(this.#config.reputationFloor === undefined
        ? {}
        : { reputationFloor: this.#config.reputationFloor }),
    };
  }

  #options() {
    const weights = this.#config.weights;
    const roleOf = new Map(this.#host.agents().map((a) => [a.id, a.role]));
    // Only an agent of the role may hold its slot: its card and grant say which role it is.
    return {
      suitability: (agent: AgentProfile, role: RoleRequirement) =>
        roleOf.get(agent.id) === role.name ? suitability(agent, role, weights) : FORBIDDEN,
    };
  }

  async #readReputations(): Promise<void> {
    const ids = this.#host
      .agents()
      .filter((a) => this.#roleNames.has(a.role))
      .map((a) => a.id);
    this.#reputation = new Map(await this.#host.reputations(ids));
  }

  readonly #report = (error: unknown) =>
    this.#host.emit({ type: "error", error: `role slots: ${toError(error).message}` });
}

/**
 * Refuses at `swarm.slots(...)` what would otherwise fail later, where nobody
 * awaits it: at start on a running swarm, or on every event planned.
 */
function validate(config: RoleSlotsConfig): void {
  // Checks role names, slot counts and weights as the assignment will.
  assignRoles([], config.roles, config.weights === undefined ? {} : { weights: config.weights });
  const floor = config.reputationFloor;
  if (floor !== undefined && !(floor >= 0 && floor <= 1)) {
    throw new ConfigError(`role slots: reputation floor must be in [0, 1], got ${floor}`);
  }
  const interval = config.intervalMs;
  if (interval !== undefined && !(Number.isFinite(interval) && interval > 0)) {
    throw new ConfigError(
      `role slots: intervalMs must be a number of ms > 0 (how often reputations are read), got ${interval}`,
    );
  }
}
