import type { CallOptions, GatherCall, Gathered } from "./call-options.js";
import type { SubmitOptions } from "./messages.js";
import type { TeamBook } from "./teams.js";

/** What a team delegation uses of the handler's context (`TaskContext`). */
export interface TeamCaller {
  readonly agentId: string;
  submit<TBody>(role: string, task: string, body: TBody, options?: SubmitOptions): string;
  delegate<TBody>(
    role: string,
    task: string,
    body: TBody,
    options: SubmitOptions & { budget: number },
  ): Promise<string>;
  call<TResult = unknown>(
    role: string,
    task: string,
    body: unknown,
    options?: CallOptions,
  ): Promise<TResult>;
  gather<TResult = unknown>(
    calls: readonly GatherCall[],
    options?: { readonly timeoutMs?: number },
  ): Promise<Gathered<TResult>[]>;
}

/** Which role of the team's members takes a delegated task, when the task alone does not say. */
export interface TeamRoleOption {
  /** Default: the one role of the team's members that lists the task. */
  readonly role?: string;
}

/** One child of {@link TeamDelegation.gather}: a task for the team. */
export interface TeamGatherCall extends TeamRoleOption {
  readonly task: string;
  readonly body: unknown;
  /** Credits moved into this child's escrow from the lead (as `delegate`). */
  readonly budget?: number;
}

/**
 * A lead's handle on the team it leads (`ctx.team()`): the same `submit`,
 * `delegate`, `call` and `gather` as the handler's context, but each task
 * goes to the team's members only (`<swarm>.team.<team>.<role>.<task>`),
 * and the role is found from the task when one role of the members lists it.
 *
 * @example
 * ```ts
 * lead.handle("research", async (ctx) => {
 *   const findings = await ctx.team().call<string>("investigate", { topic: ctx.body });
 *   ctx.finish({ findings });
 * });
 * ```
 */
export class TeamDelegation {
  constructor(
    private readonly ctx: TeamCaller,
    private readonly teams: TeamBook,
    /** The team's name. */
    readonly name: string,
  ) {}

  /** The roles of the team's members. */
  get roles(): string[] {
    return this.teams.roles(this.name);
  }

  /** Submits a task to the team's members, sent only if this handler succeeds (see `ctx.submit`). */
  submit<TBody>(task: string, body: TBody, options: SubmitOptions & TeamRoleOption = {}): string {
    const { role, ...rest } = options;
    return this.ctx.submit(this.#role(task, role), task, body, { ...rest, team: this.name });
  }

  /** Submits a task to the team's members with a budget in escrow (see `ctx.delegate`). */
  delegate<TBody>(
    task: string,
    body: TBody,
    options: SubmitOptions & TeamRoleOption & { budget: number },
  ): Promise<string> {
    const { role, ...rest } = options;
    return this.ctx.delegate(this.#role(task, role), task, body, { ...rest, team: this.name });
  }

  /** Calls the team durably and waits for a member's result (see `ctx.call`). */
  call<TResult = unknown>(
    task: string,
    body: unknown,
    options: CallOptions & TeamRoleOption = {},
  ): Promise<TResult> {
    const { role, ...rest } = options;
    return this.ctx.call<TResult>(this.#role(task, role), task, body, {
      ...rest,
      team: this.name,
    });
  }

  /** Fans out to the team's members and joins them durably (see `ctx.gather`). */
  gather<TResult = unknown>(
    calls: readonly TeamGatherCall[],
    options: { readonly timeoutMs?: number } = {},
  ): Promise<Gathered<TResult>[]> {
    return this.ctx.gather<TResult>(
      calls.map((c) => ({
        role: this.#role(c.task, c.role),
        task: c.task,
        body: c.body,
        team: this.name,
        ...(c.budget === undefined ? {} : { budget: c.budget }),
      })),
      options,
    );
  }

  #role(task: string, role: string | undefined): string {
    return this.teams.route(this.ctx.agentId, this.name, task, role).role;
  }
}
