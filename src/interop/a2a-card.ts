/**
 * The agent cards the gateway serves: one for the swarm, whose skills are
 * the tasks `gateway.expose` offers, and one per role offering tasks (the
 * same skills, narrowed to the role, at `/roles/<role>/…`). Each card
 * declares the JSON-RPC endpoint for A2A v1.0 and, at the same URL, v0.3
 * (`message/send`, `tasks/get`, …), and how callers authenticate.
 */
import type { AgentCard, SecurityScheme } from "@a2a-js/sdk";
import { duplicateInterfacesForLegacy } from "@a2a-js/sdk/compat/v0_3";
import type { FrontDoor } from "./front-door.js";

/** Paths of the gateway's endpoints. */
export const GatewayPaths = Object.freeze({
  card: "/.well-known/agent-card.json",
  rpc: "/a2a",
  /** Prefix of a role's card and endpoint: `/roles/<role>/.well-known/agent-card.json`, `/roles/<role>/a2a`. */
  role: (role: string) => `/roles/${encodeURIComponent(role)}`,
});

const MODES = ["application/json", "text/plain"];

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
