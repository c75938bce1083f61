import { ConclaveError } from "../errors/index.js";
import { createRouter, type Router } from "../routing/router.js";
import type { RoutingStrategy } from "../routing/strategies.js";
import { decodeEnvelope } from "../wire/codec.js";
import { signedMessage } from "./messages.js";
import type { LocalAgent, NodeContext } from "./node-context.js";
import { subjects, taskType } from "./subjects.js";

/** Options of {@link Requests.request}. */
export interface RequestOptions {
  /** How long one candidate has to answer before the next is tried. Default 30 s. */
  readonly timeoutMs?: number;
  /** The candidate's card must carry all of these tags. */
  readonly tags?: readonly string[];
}

/**
 * Request and reply with one live agent of a role (`swarm.request`): the
 * candidate is chosen by the role's routing strategy, and the next one is
 * tried when a candidate fails or times out.
 */
export class Requests {
  readonly #node: NodeContext;
  readonly #strategies: (role: string) => RoutingStrategy;
  readonly #routers = new Map<string, Router>();

  constructor(node: NodeContext, strategies: (role: string) => RoutingStrategy) {
    this.#node = node;
    this.#strategies = strategies;
  }

  async request<TResult>(
    as: LocalAgent,
    role: string,
    task: string,
    body: unknown,
    options: RequestOptions = {},
  ): Promise<TResult> {
    const { registry, clock, limits, swarm, transport } = this.#node;
    const candidates = registry
      .find({ role, cardStatus: "active", ...(options.tags ? { tags: options.tags } : {}) })
      .map((e) => e.card);
    const timeoutMs = options.timeoutMs ?? 30_000;
    return this.#router(role).routeWithFailover(candidates, role, async (card) => {
      const { entry } = signedMessage(
        { clock, maxEnvelopeBytes: limits.maxEnvelopeBytes, transportKind: transport.kind },
        as.signer,
        {
          mode: "publish",
          subject: subjects.agentRequest(swarm, card.id),
          type: taskType(task),
          body,
        },
      );
      const reply = await transport.request(entry.subject, entry.data, { timeoutMs });
      const envelope = decodeEnvelope(reply.data, { maxBytes: limits.maxEnvelopeBytes });
      if (envelope.type === "reply.error") {
        const error = (envelope.body as { error?: { code?: string; message?: string } }).error;
        throw new ConclaveError(
          error?.code ?? "E_REMOTE",
          `agent "${card.id}" failed the request: ${error?.message ?? "unknown error"}`,
        );
      }
      return envelope.body as TResult;
    });
  }

  /** Drops an agent that left from every role's routing state. */
  forget(agentId: string): void {
    for (const router of this.#routers.values()) router.forget(agentId);
  }

  #router(role: string): Router {
    let router = this.#routers.get(role);
    if (!router) {
      router = createRouter({
        strategy: this.#strategies(role),
        random: this.#node.random,
        clock: this.#node.clock,
      });
      this.#routers.set(role, router);
    }
    return router;
  }
}
