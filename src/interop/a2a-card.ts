/**
 * The agent cards the gateway serves: one for the swarm, whose skills are
 * the tasks `gateway.expose` offers, and one per role offering tasks (the
 * same skills, narrowed to the role, at `/roles/<role>/…`). Each card
 * declares the JSON-RPC endpoint for A2A v1.0 and, at the same URL, v0.3
 * (`message/send`, `tasks/get`, …), and how callers authenticate.
 */
import type { AgentCard, SecurityScheme } from "@a2a-js/sdk";
import { duplicateInterfacesForLegacy } from "@a2a-js/sdk/compat/v0_3";
import { INPUT_MODES } from "./a2a-tasks.js";
import type { FrontDoor } from "./front-door.js";

/** Paths of the gateway's endpoints. */
export const GatewayPaths = Object.freeze({
  card: "/.well-known/agent-card.json",
  rpc: "/a2a",
  /** Prefix of a role's card and endpoint: `/roles/<role>/.well-known/agent-card.json`, `/roles/<role>/a2a`. */
  role: (role: string) => `/roles/${encodeURIComponent(role)}`,
});

const MODES = [...INPUT_MODES];

/** The card for `role` (undefined: the whole swarm), with endpoints under `baseUrl`. */
export function agentCard(door: FrontDoor, baseUrl: string, role?: string): AgentCard {
  const offered = door.offered().filter((o) => role === undefined || o.role === role);
  const prefix = role === undefined ? "" : GatewayPaths.role(role);
  const url = `${baseUrl}${prefix}${GatewayPaths.rpc}`;
  const schemes: Record<string, SecurityScheme> = {};
  if (Object.keys(door.gateway.tokens).length > 0) {
    schemes["bearer"] = {
      scheme: {
        $case: "httpAuthSecurityScheme",
        value: {
          description: "A token from the swarm file's gateway.tokens",
          scheme: "Bearer",
          bearerFormat: "",
        },
      },
    };
  }
  if (door.gateway.tls !== undefined) {
    schemes["mtls"] = {
      scheme: {
        $case: "mtlsSecurityScheme",
        value: { description: "A client certificate signed by the gateway's client CA" },
      },
    };
  }
  const name = role === undefined ? `${door.swarmName} swarm` : `${door.swarmName} swarm: ${role}`;
  const description =
    role === undefined
      ? (door.swarmDescription ??
        `The ${door.swarmName} swarm of conclave agents. Name a skill in message.metadata.skill.`)
      : `The ${role} role of the ${door.swarmName} swarm.`;
  return {
    name,
    description,
    supportedInterfaces: duplicateInterfacesForLegacy(
      [{ url, protocolBinding: "JSONRPC", tenant: "", protocolVersion: "1.0" }],
      ["JSONRPC"],
    ),
    provider: undefined,
    version: "0.1.0",
    capabilities: {
      streaming: true,
      pushNotifications: false,
      extensions: [],
      extendedAgentCard: false,
    },
    securitySchemes: schemes,
    // Any one of the schemes will do.
    securityRequirements: Object.keys(schemes).map((s) => ({ schemes: { [s]: { list: [] } } })),
    defaultInputModes: MODES,
    defaultOutputModes: MODES,
    skills: offered.map((o) => ({
      id: o.name,
      name: o.name,
      description: o.privileged
        ? `${o.description} (privileged: runs only if the swarm's council approves)`
        : o.description,
      tags: [o.role, o.task, ...(o.privileged ? ["privileged"] : [])],
      examples: [],
      inputModes: MODES,
      outputModes: MODES,
      securityRequirements: [],
    })),
    signatures: [],
  };
}

/**
 * The same card in the v0.3 shape, for callers that do not ask for v1.0
 * (an absent `A2A-Version` means 0.3, as in the SDK's own servers): one
 * `url` with its transport, `security` instead of `securityRequirements`,
 * and the v1.0 interfaces kept alongside for clients that read both.
 */
export function legacyAgentCard(card: AgentCard): Record<string, unknown> {
  const schemes: Record<string, Record<string, string>> = {};
  for (const [key, scheme] of Object.entries(card.securitySchemes)) {
    const inner = scheme.scheme;
    if (inner?.$case === "httpAuthSecurityScheme") {
      schemes[key] = {
        type: "http",
        scheme: inner.value.scheme.toLowerCase(),
        description: inner.value.description,
      };
    } else if (inner?.$case === "mtlsSecurityScheme") {
      schemes[key] = { type: "mutualTLS", description: inner.value.description };
    }
  }
  return {
    protocolVersion: "0.3.0",
    name: card.name,
    description: card.description,
    version: card.version,
    url: card.supportedInterfaces[0]?.url ?? "",
    preferredTransport: "JSONRPC",
    capabilities: {
      streaming: card.capabilities?.streaming ?? false,
      pushNotifications: false,
      stateTransitionHistory: false,
    },
    securitySchemes: schemes,
    security: Object.keys(schemes).map((key) => ({ [key]: [] })),
    defaultInputModes: card.defaultInputModes,
    defaultOutputModes: card.defaultOutputModes,
    skills: card.skills.map((s) => ({
      id: s.id,
      name: s.name,
      description: s.description,
      tags: s.tags,
      inputModes: s.inputModes,
      outputModes: s.outputModes,
    })),
    supportedInterfaces: card.supportedInterfaces,
  };
}
