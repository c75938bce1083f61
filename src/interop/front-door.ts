/**
 * The swarm's front door: how a request from outside (an A2A client, an MCP
 * client) becomes a task of the swarm, whatever protocol carried it. One home
 * for what both protocols must get right:
 *
 * - only the tasks the swarm file offers (`gateway.expose`) can be started;
 * - each task is signed by the gateway's declared agent (`gateway.as`) and
 *   records who asked (`conclave-caller`, `conclave-via` headers), so the
 *   audit shows the outside caller;
 * - `gateway.pricePerTask` credits are escrowed from that agent's budget
 *   (the delegation escrow every task carries on), released to the worker
 *   when the task completes and refunded when it is dead-lettered, whether
 *   or not a caller asks again ({@link GatewayEscrows});
 * - a privileged task is proposed to the swarm's council first and sent
 *   only with the approved decision's seal;
 * - the task's state lives in the store, so a restarted gateway answers for
 *   tasks it started before.
 */
import type { GatewayConfig } from "../config/gateway.js";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { ActionNotApprovedError, InvalidRequestError, NotExposedError } from "../errors/interop.js";
import type { Swarm } from "../runtime/swarm.js";
import type { TaskOutcome } from "../store/ports/tasks.js";
import { decodeEnvelope } from "../wire/codec.js";
import { ulid, ulidPattern } from "../wire/ulid.js";
import { GatewayEscrows, gatewayEscrowKey } from "./gateway-escrows.js";

/** Headers recording who asked for a task from outside, and over what. */
export const CallerHeaders = Object.freeze({
  caller: "conclave-caller",
  via: "conclave-via",
});

/** An authenticated outside caller. */
export interface OutsideCaller {
  /** The caller's name: its token's key in `gateway.tokens`, or its client certificate's CN. */
  readonly name: string;
  /** The protocol it came over. */
  readonly via: "a2a" | "mcp";
}

/** A task offered to outside callers, with the name they know it by. */
export interface OfferedTask {
  /** `<role>.<task>`, unique: an A2A skill id, an MCP tool name. */
  readonly name: string;
  readonly role: string;
  readonly task: string;
  readonly description: string;
  /** Whether it is a privileged action (needs the council's approval). */
  readonly privileged: boolean;
}

/** Where a task started from outside stands. */
export type OutsideTaskState =
  | { readonly state: "working"; readonly taskId: string }
  | { readonly state: "completed"; readonly taskId: string; readonly result: unknown }
  | { readonly state: "failed"; readonly taskId: string; readonly reason: string };

export interface StartOptions {
  /** The task id (a ULID) instead of a fresh one: a caller retrying keeps its id, and nothing runs twice. */
  readonly id?: string;
  /** The protocol's own correlation (an A2A context id), kept as a header. */
  readonly context?: string;
}

export class FrontDoor {
  readonly #swarm: Swarm;
  readonly #config: SwarmFile;
  readonly #gateway: GatewayConfig;
  readonly #offered: readonly OfferedTask[];
  readonly #escrows: GatewayEscrows;

  /**
   * Opens the door of a started `swarm`; it settles its tasks' escrows as
   * they end (and those an earlier run left open) until {@link close}.
   */
  constructor(swarm: Swarm, config: SwarmFile, gateway: GatewayConfig) {
    this.#swarm = swarm;
    this.#config = config;
    this.#gateway = gateway;
    this.#escrows = new GatewayEscrows(swarm, gateway.as);
    this.#offered = gateway.expose.map((e) => ({
      name: `${e.role}.${e.task}`,
      role: e.role,
      task: e.task,
      description:
        e.description ?? `Task "${e.task}" of the ${config.swarm} swarm's ${e.role} role.`,
      privileged: e.task in config.privileged,
    }));
  }

  /** The gateway's settings (port, tokens, limits). */
  get gateway(): GatewayConfig {
    return this.#gateway;
  }

  /** The swarm's name and description, for cards and server info. */
  get swarmName(): string {
    return this.#config.swarm;
  }
  get swarmDescription(): string | undefined {
    return this.#config.description;
  }

  offered(): readonly OfferedTask[] {
    return this.#offered;
  }

  /**
   * The offered task called `name` (`<role>.<task>`), or the only one of
   * role `name`.
   * @throws NotExposedError when the gateway offers no such task.
   */
  find(name: string): OfferedTask {
    const exact = this.#offered.find((o) => o.name === name);
    if (exact) return exact;
    const ofRole = this.#offered.filter((o) => o.role === name);
    if (ofRole.length === 1 && ofRole[0]) return ofRole[0];
    throw new NotExposedError(
      name,
      this.#offered.map((o) => o.name),
    );
  }

  /**
   * Starts task `offered` with `input` for `caller`. Returns its id at once;
   * `state(id)` and `wait(id)` follow it. Idempotent by `options.id`.
   *
   * @throws InsufficientCreditsError / AgentHaltedError when the gateway's
   *   agent cannot escrow `gateway.pricePerTask` (nothing is sent).
   * @throws ActionNotApprovedError when a privileged task's vote did not approve it.
   */
  async start(
    caller: OutsideCaller,
    offered: OfferedTask,
    input: unknown,
    options: StartOptions = {},
  ): Promise<string> {
    const id = options.id ?? ulid();
    if ((await this.#swarm.outcome(id)) !== undefined) return id;
    const as = this.#gateway.as;
    const headers: Record<string, string> = {
      [CallerHeaders.caller]: caller.name,
      [CallerHeaders.via]: caller.via,
    };
    if (options.context !== undefined) headers["conclave-context"] = options.context;
    let approval: string | undefined;
    if (offered.privileged) {
      const decision = await this.#swarm.propose(offered.task, input, { as });
      if (decision.outcome !== "approved") {
        throw new ActionNotApprovedError(offered.task, decision.outcome, decision.proposal.id);
      }
      approval = decision.seal;
    }
    const submit = { as, id, headers, ...(approval === undefined ? {} : { approval }) };
    const price = this.#gateway.pricePerTask;
    // Paid: the price's hold commits with the task, or neither (a failed start holds nothing).
    if (price > 0) {
      const paid = { ...submit, budget: price, escrow: gatewayEscrowKey(id) };
      await this.#swarm.delegate(offered.role, offered.task, input, paid);
      this.#escrows.watch(id, price);
    } else {
      await this.#swarm.submit(offered.role, offered.task, input, submit);
    }
    return id;
  }

  /**
   * Where task `taskId` stands; settles its escrow once it has ended.
   *
   * @throws InvalidRequestError if `taskId` is no task id (not a ULID).
   */
  async state(taskId: string): Promise<OutsideTaskState> {
    checkTaskId(taskId);
    return this.#settled(taskId, await this.#swarm.outcome(taskId));
  }

  /**
   * Waits up to `timeoutMs` (default `gateway.waitMs`) for task `taskId` to
   * end; answers `working` if it has not by then (it goes on running).
   */
  async wait(
    taskId: string,
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): Promise<OutsideTaskState> {
    checkTaskId(taskId);
    try {
      await this.#swarm.wait(taskId, {
        timeoutMs: options.timeoutMs ?? this.#gateway.waitMs,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      // Dead-lettered, timed out or aborted: the outcome says which.
      if ((error as { code?: string }).code === undefined) throw error;
    }
    return this.state(taskId);
  }

  /**
   * {@link wait} (or, with `immediately`, {@link state}) for a task the
   * caller has just {@link start}ed, where a failure to read its state (the
   * store unreachable for a moment) answers `working`: the task was sent,
   * its price held, and it runs on. The caller must get its id to follow
   * it, not an error that leaves it only asking again — starting, and
   * paying for, a second task.
   */
  async waitStarted(
    taskId: string,
    options: {
      readonly immediately?: boolean;
      readonly timeoutMs?: number;
      readonly signal?: AbortSignal;
    } = {},
  ): Promise<OutsideTaskState> {
    try {
      return options.immediately ? await this.state(taskId) : await this.wait(taskId, options);
    } catch {
      return { state: "working", taskId };
    }
  }

  /**
   * Stops settling escrows in the background; those of tasks still running
   * are settled by the next front door opened on the swarm (or when asked).
   */
  close(): void {
    this.#escrows.close();
  }

  async #settled(taskId: string, outcome: TaskOutcome | undefined): Promise<OutsideTaskState> {
    // A task this gateway did not start (a child task, whose id is derived
    // from its parent's; another agent's) reads as an id it does not know.
    if (outcome === undefined || !(await this.#startedHere(taskId, outcome))) {
      return { state: "working", taskId };
    }
    // Once per escrow however often asked (the background settler, or an
    // auditor of the swarm, may have settled it first).
    await this.#escrows.settle(taskId, outcome);
    return outcome.status === "completed"
      ? { state: "completed", taskId, result: outcome.result }
      : { state: "failed", taskId, reason: outcome.reason };
  }

  /**
   * Whether the ended task `taskId` is one this gateway may have started:
   * a root task (no cause) sent by `gateway.as`. An auctioned task reads as
   * the task awarded for it (another id, sent by the auctioneer): the
   * request's id is the gateway's. Read from the completion's lineage, or
   * from a dead letter's envelope.
   */
  async #startedHere(taskId: string, outcome: TaskOutcome): Promise<boolean> {
    if (outcome.taskId !== taskId) return true;
    let lineage: { readonly sender?: string | undefined; readonly cause?: string | undefined };
    if (outcome.status === "completed") {
      lineage = outcome;
    } else {
      const dead = await this.#swarm.store.deadLetter(taskId);
      if (dead === undefined) return true;
      try {
        // Read back from this swarm's own store: any size it took in.
        const data = Buffer.from(dead.data, "base64");
        const envelope = decodeEnvelope(data, { maxBytes: Math.max(1, data.byteLength) });
        lineage = { sender: envelope.from, cause: envelope.cause };
      } catch {
        // Not a task's envelope: nothing a caller of the gateway sent.
        return false;
      }
    }
    if (lineage.cause !== undefined) return false;
    return lineage.sender === undefined || lineage.sender === this.#gateway.as;
  }
}

/**
 * Why `taskId` names no task the front door could have started (those are
 * ULIDs), or undefined if it could: an unknown ULID is a task not ended yet
 * (`working`), anything else is no task at all.
 */
export function taskIdProblem(taskId: string): string | undefined {
  return ulidPattern.test(taskId)
    ? undefined
    : `no task ${taskId.slice(0, 140)}: task ids are ULIDs (26 characters, e.g. 01JD0000000000000000000000), as the call that started the task answered`;
}

function checkTaskId(taskId: string): void {
  const problem = taskIdProblem(taskId);
  if (problem !== undefined) throw new InvalidRequestError(problem);
}

/** Opens the front door of a swarm file that has a `gateway:` section. */
export function createFrontDoor(swarm: Swarm, config: SwarmFile): FrontDoor {
  if (config.gateway === undefined) {
    throw new NotExposedError("gateway", []);
  }
  return new FrontDoor(swarm, config, config.gateway);
}
