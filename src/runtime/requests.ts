import { ConclaveError, ConfigError } from "../errors/index.js";
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
 * Codes of a handler's `PermanentError` (and its subclasses): the request
 * itself is at fault (a queued task is dead-lettered at once for them), so
 * no other agent is asked to run it again. Only the code crosses the wire,
 * so every subclass the library defines is listed; keep it in step with
 * them (`extends PermanentError`).
 */
const PERMANENT_CODES: ReadonlySet<string> = new Set([
  "E_PERMANENT",
  "E_NOT_JSON",
  "E_CHILD_FAILED",
  "E_UNPRICED_MODEL",
  "E_NO_USABLE_ANSWERS",
  "E_COMBINER_REPLIES_UNUSABLE",
  "E_REMOTE_REFUSED",
  "E_MODEL_REQUEST",
  "E_MODEL_RESPONSE",
  "E_UNKNOWN_TOOL",
  "E_TOOL_RESULT_TOO_LARGE",
  "E_NON_DETERMINISM",
  "E_DUPLICATE_STEP",
  "E_NOT_TEAM_LEAD",
  "E_PAYLOAD_TOO_LARGE",
]);

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
    // 0, a negative or NaN would time every candidate out at once, after the
    // first had started the handler.
    if (typeof timeoutMs !== "number" || !(timeoutMs > 0)) {
      throw new ConfigError(
        `request timeoutMs must be a number of ms > 0 (each candidate's time to answer), got ${String(timeoutMs)}; omit it for the 30 s default`,
      );
    }
    // Signed once for every candidate: a candidate that timed out may still
    // be running it, and the same envelope id makes the next one wait for
    // that run's claim and answer with its result instead of running the
    // handler (and committing its effects) a second time.
    let signed: Uint8Array | undefined;
    return this.#router(role).routeWithFailover(
      candidates,
      role,
      async (card) => {
        const subject = subjects.agentRequest(swarm, card.id);
        signed ??= signedMessage(
          {
            swarm,
            clock,
            maxEnvelopeBytes: limits.maxEnvelopeBytes,
            transportKind: transport.kind,
          },
          as.signer,
          { mode: "publish", subject, type: taskType(task), body },
        ).entry.data;
        const reply = await transport.request(subject, signed, { timeoutMs });
        const envelope = decodeEnvelope(reply.data, { maxBytes: limits.maxEnvelopeBytes });
        if (envelope.type === "reply.error") {
          const error = (envelope.body as { error?: { code?: string; message?: string } }).error;
          const code = error?.code ?? "E_REMOTE";
          const message = `agent "${card.id}" failed the request: ${error?.message ?? "unknown error"}`;
          throw new ConclaveError(code, message);
        }
        return envelope.body as TResult;
      },
      {
        // The handler's own refusal: another agent would refuse it alike.
        shouldFailover: (error) =>
          !(error instanceof ConclaveError && PERMANENT_CODES.has(error.code)),
      },
    );
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
