/**
 * What the consensus runtime reads from its node: the members of the
 * `NodeContext` it uses (nothing is re-wrapped for it), this node's agents
 * seen as voters, and publishing on the bus within the node's size limit.
 */

import type { RuleVoter } from "../../consensus/rule.js";
import { encodeEnvelope } from "../../wire/codec.js";
import type { Envelope } from "../../wire/envelope.js";
import { createSignedEnvelope } from "../../wire/signature.js";
import type { LocalAgent, NodeContext } from "../node-context.js";
import type { LocalVoter } from "./types.js";

/** The parts of the node the consensus engine uses. */
export type ConsensusContext = Pick<
  NodeContext,
  | "swarm"
  | "transport"
  | "store"
  | "clock"
  | "limits"
  | "events"
  | "keys"
  | "roles"
  | "agents"
  | "registry"
  | "deadLetters"
  | "privileged"
  | "admission"
>;

/** A hosted agent as a voter: its card's role, weight and key, its signing key, policy and handler. */
function asVoter(agent: LocalAgent): LocalVoter {
  return {
    id: agent.id,
    role: agent.role,
    weight: agent.card.weight,
    publicKey: agent.card.publicKey,
    privateKey: agent.signer.privateKey,
    ...(agent.policy ? { rules: agent.policy } : {}),
    ...(agent.voteHandler ? { handler: agent.voteHandler } : {}),
  };
}

/** Agent `agentId` as a voter, if this node hosts it. */
export function localVoter(
  node: Pick<ConsensusContext, "agents">,
  agentId: string,
): LocalVoter | undefined {
  const agent = node.agents.get(agentId);
  return agent ? asVoter(agent) : undefined;
}

/** Every agent this node hosts, as a voter. */
export function localVoters(node: Pick<ConsensusContext, "agents">): LocalVoter[] {
  return [...node.agents.all()].map(asVoter);
}

/** Live agents hosted elsewhere whose key this node trusts, as voters. */
export function remoteVoters(
  node: Pick<ConsensusContext, "agents" | "registry" | "keys">,
): RuleVoter[] {
  return node.registry
    .find()
    .filter((e) => !node.agents.get(e.card.id) && node.keys.key(e.card.id) !== undefined)
    .map(({ card }) => ({
      id: card.id,
      role: card.role,
      weight: card.weight,
      publicKey: card.publicKey,
    }));
}

/** Publishes a signed envelope on `subject`, within the node's size limit. */
export function publish(
  node: Pick<ConsensusContext, "transport" | "limits">,
  subject: string,
  envelope: Envelope,
): void {
  node.transport.publish(
    subject,
    encodeEnvelope(envelope, { maxBytes: node.limits.maxEnvelopeBytes }),
  );
}

/** Signs a message as local voter `as` and publishes it on `subject`. */
export function sendSigned(
  node: Pick<ConsensusContext, "transport" | "limits" | "clock">,
  subject: string,
  as: LocalVoter,
  type: string,
  body: unknown,
  corr: string,
  headers?: Readonly<Record<string, string>>,
): void {
  const envelope = createSignedEnvelope(
    {
      type,
      from: as.id,
      corr,
      body: body as never,
      ...(headers === undefined ? {} : { headers }),
    },
    as.privateKey,
    { clock: node.clock },
  );
  publish(node, subject, envelope);
}
