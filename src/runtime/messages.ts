import type { Clock } from "../core/clock.js";
import { ConfigError } from "../errors/index.js";
import { encodeEnvelope } from "../wire/codec.js";
import { createEnvelope, type Envelope } from "../wire/envelope.js";
import { signEnvelope } from "../wire/signature.js";
import type { OutboxDraft } from "./market/engine.js";
import type { Signer } from "./node-context.js";
import { RUN_HEADER } from "./run-identity.js";
import { APPROVAL_HEADER, SWARM_HEADER } from "./subjects.js";
import { traceOutgoing } from "./tracing.js";

/** Options of a message sent on behalf of an agent. */
export interface SubmitOptions {
  /** Absolute deadline (ms since epoch) after which the task is dead-lettered unhandled. */
  readonly deadline?: number;
  /** Conversation for ordered delivery. */
  readonly conv?: string;
  /**
   * Position in the conversation `conv`, from 0 without gaps: with
   * conversation ordering, `seq` N runs after N - 1 completed.
   */
  readonly seq?: number;
  /** Extra transport headers, carried as they are. */
  readonly headers?: Record<string, string>;
  /**
   * The seal of the approved decision that authorises this task (a
   * privileged action); sent as the `conclave-approval` header.
   */
  readonly approval?: string;
  /**
   * The envelope's id (a ULID) instead of a fresh one, for a task that must
   * keep its id when its sender runs again (see `ctx.call`).
   */
  readonly id?: string;
  /**
   * Delegate to this team (`teams:` in the swarm file) instead of the whole
   * role: the task goes to the team's members of the role only
   * (`<swarm>.team.<team>.<role>.<task>`). Only the team's lead may;
   * anyone else gets `NotTeamLeadError`.
   */
  readonly team?: string;
}

/** What building a message needs besides the signer. */
export interface MessageSettings {
  /** The swarm the message is signed for: its `conclave-swarm` header. */
  readonly swarm: string;
  readonly clock: Clock;
  readonly maxEnvelopeBytes: number;
  /** The transport's kind (`Transport.kind`): the `messaging.system` of the message's span. */
  readonly transportKind: string;
  /** The sender's run id: a task (`enqueue`) carries it as the `conclave-run` header. */
  readonly run?: string | undefined;
}

/** A message to build and sign: where it goes and what it carries. */
export interface MessageDraft<TBody> {
  /** `enqueue` for a durable task, `publish` for a fan-out event. */
  readonly mode: OutboxDraft["mode"];
  readonly subject: string;
  /** The envelope type (e.g. `task.code`). */
  readonly type: string;
  readonly body: TBody;
  /** The envelope being handled, if any: becomes the cause (and gives the correlation). */
  readonly parent?: Envelope | undefined;
  readonly options?: SubmitOptions;
  /** A fixed id (a ULID) instead of a fresh one: see `CreateEnvelopeOptions.id`. */
  readonly id?: string;
}

/** Builds and signs an envelope as `signer`, and the bus message that carries it. */
export function signedMessage<TBody>(
  settings: MessageSettings,
  signer: Signer,
  draft: MessageDraft<TBody>,
): { envelope: Envelope<TBody>; entry: OutboxDraft } {
  const { parent, options = {} } = draft;
  if ((options.conv === undefined) !== (options.seq === undefined)) {
    throw new ConfigError(
      options.conv === undefined
        ? `${draft.type}: seq ${options.seq} given without conv; name the conversation it belongs to (conv), or drop seq`
        : `${draft.type}: conv "${options.conv}" given without seq; number the conversation's messages from 0 (seq: 0, 1, 2, …) so they can be ordered`,
    );
  }
  // The trace context goes in before signing: headers are signed with the rest.
  const traced = traceOutgoing(settings.transportKind, draft.mode, draft.subject, parent);
  const run = draft.mode === "enqueue" ? settings.run : undefined;
  // The swarm's name last: a caller's headers cannot sign it for another swarm.
  const headers = {
    ...traced.headers,
    ...options.headers,
    ...(options.approval === undefined ? {} : { [APPROVAL_HEADER]: options.approval }),
    ...(run === undefined ? {} : { [RUN_HEADER]: run }),
    [SWARM_HEADER]: settings.swarm,
  };
  try {
    const unsigned = createEnvelope<TBody>(
      {
        type: draft.type,
        from: signer.id,
        body: draft.body,
        ...(parent ? { corr: parent.corr ?? parent.id, cause: parent.id } : {}),
        ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
        ...(options.conv === undefined ? {} : { conv: options.conv, seq: options.seq as number }),
        headers,
      },
      { clock: settings.clock, ...(draft.id === undefined ? {} : { id: draft.id }) },
    );
    const envelope = signEnvelope(unsigned, signer.privateKey);
    const data = encodeEnvelope(envelope, { maxBytes: settings.maxEnvelopeBytes });
    traced.sent(envelope.id);
    return { envelope, entry: { id: envelope.id, mode: draft.mode, subject: draft.subject, data } };
  } catch (error) {
    traced.failed(error);
    throw error;
  }
}
