import { escrowAccount } from "../ledger/index.js";
import { ulid } from "../wire/ulid.js";
import type { Agent } from "./agent.js";
import { StagingContext, type SubmitOptions } from "./context.js";
import type { AuctionOptions, AuctionOutcome } from "./market/engine.js";
import type { NodeContext } from "./node-context.js";

/**
 * Root tasks: work that enters the swarm from outside any handler
 * (`swarm.submit`, `swarm.delegate`, `swarm.auction`). Each is staged as a
 * handler's messages are, and committed to the outbox under a marker of its
 * own (`submit:<id>`, `auction:<id>`), so it is recorded, and its escrow
 * held, before it is sent, and submitted again by id it is sent once.
 */
export class RootTasks {
  readonly #node: NodeContext;

  constructor(node: NodeContext) {
    this.#node = node;
  }

  /** Submits a durable root task to `role`, signed as `agent`. Returns the task id. */
  async submit<TBody>(
    agent: Agent,
    role: string,
    task: string,
    body: TBody,
    options: SubmitOptions,
  ): Promise<string> {
    const staging = new StagingContext(this.#node, agent.signer, undefined);
    const id = staging.submit(role, task, body, options);
    return this.#commit(id, agent.id, staging, role, task);
  }

  /**
   * Submits a root task that `agent` pays `budget` for, into escrow `escrow`
   * (default `root.<task id>`), held in the commit that records the task.
   * An agent without a budget submits without escrow. Returns the task id.
   */
  async delegate<TBody>(
    agent: Agent,
    role: string,
    task: string,
    body: TBody,
    options: SubmitOptions & { budget: number; escrow?: string },
  ): Promise<string> {
    const { escrow: named, ...rest } = options;
    const id = options.id ?? ulid(this.#node.clock);
    const { store, budgets, outbox } = this.#node;
    if (options.id !== undefined && (await store.isCompleted(`submit:${id}`))) {
      await outbox.resend(`submit:${id}`);
      return id;
    }
    const staging = new RootStaging(this.#node, agent.signer, undefined, id);
    if (budgets.has(agent.id)) {
      const escrow = named ?? `root.${id}`;
      // Held by an earlier version's start of this task id (it held, then
      // submitted): kept, not held again. A fresh id has no such hold.
      const held = options.id !== undefined && (await store.balance(escrowAccount(escrow))) > 0;
      await staging.delegateRoot(escrow, held, role, task, body, { ...rest, id });
    } else {
      staging.submit(role, task, body, { ...rest, id });
    }
    return this.#commit(id, agent.id, staging, role, task);
  }

  /**
   * Allocates `task` by auction as `agent` and commits the awarded task (with
   * the price's hold) to the outbox. Unsold: nothing is sent.
   */
  async auction(
    agent: string,
    task: string,
    body: unknown,
    options: AuctionOptions & { id?: string },
  ): Promise<AuctionOutcome & { readonly task?: string }> {
    const { id: given, ...rest } = options;
    const id = given ?? ulid(this.#node.clock);
    const { outcome, draft, hold } = await this.#node.market.auction(
      agent,
      id,
      task,
      body,
      undefined,
      rest,
    );
    if (!draft) return outcome;
    // The price's hold commits with the awarded task, or neither does.
    await this.#node.outbox.commit(`auction:${id}`, agent, {
      effects: [],
      outbox: [draft],
      ...(hold === undefined ? {} : { ledger: [hold] }),
    });
    return { ...outcome, task: draft.id };
  }

  async #commit(
    id: string,
    agent: string,
    staging: StagingContext,
    role: string,
    task: string,
  ): Promise<string> {
    const { outbox, events } = this.#node;
    const { full, duplicate } = await outbox.commit(`submit:${id}`, agent, staging.staged());
    if (full) await outbox.deliver(`submit:${id}`);
    // Submitted again by id (after a restart): sent once, counted once.
    if (!duplicate) events.emit({ type: "task.submitted", id, role, task });
    return id;
  }
}

/** The staging of a root task that `swarm.delegate` pays for, into an escrow it names. */
class RootStaging extends StagingContext {
  delegateRoot<TBody>(
    escrow: string,
    held: boolean,
    role: string,
    task: string,
    body: TBody,
    options: SubmitOptions & { budget: number },
  ): Promise<string> {
    return this.delegateInto(escrow, held, role, task, body, options);
  }
}
