/**
 * `conclave broker-config nats --swarm FILE`: the broker as the first wall.
 * Writes a NATS authorization block with one user per node (by default one
 * per agent; `--node name=a,b` groups agents run by one process) whose
 * permissions cover only this swarm's subjects and its own JetStream
 * streams, and an operator user, the only one that may publish revocations.
 * A process without credentials cannot connect; a node cannot publish into
 * another swarm's subjects or streams, nor revoke anyone. The signatures and
 * admission checks of every node still apply on top (see README, Security).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadSwarmConfig } from "../config/load.js";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { ConfigError } from "../errors/index.js";
import { queueNames, subjects } from "../runtime/subjects.js";
import { writingTo } from "./output-path.js";

/** A node of the swarm: a process and the agents it runs. */
export interface BrokerNode {
  readonly name: string;
  readonly agents: readonly string[];
}

/** One NATS user's grant. */
export interface NatsGrant {
  readonly user: string;
  readonly password: string;
  readonly agents: readonly string[];
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** The user that may publish revocations (`conclave revoke --transport nats://operator:…@…`). */
export const OPERATOR_USER = "operator";

/** Every JetStream stream the swarm's queues use: one per role, the dead letters, other runs' leftovers, the market, one per agent's awards. */
function streams(config: SwarmFile): string[] {
  return [
    ...Object.keys(config.roles).map((role) => queueNames.role(config.swarm, role)),
    queueNames.deadLetters(config.swarm),
    queueNames.otherRuns(config.swarm),
    queueNames.auctionRequests(config.swarm),
    ...config.agents.map((a) => queueNames.awarded(config.swarm, a.id)),
  ];
}

/**
 * The JetStream API subjects that touch stream `s` and nothing else (NATS
 * wildcards match whole tokens, so each stream is named): stream and
 * consumer management, pulling the next message, and acknowledgements.
 */
function streamApi(s: string): string[] {
  return [
    `$JS.API.*.*.${s}`,
    `$JS.API.*.*.${s}.>`,
    `$JS.API.*.*.*.${s}`,
    `$JS.API.*.*.*.${s}.>`,
    `$JS.ACK.${s}.>`,
  ];
}

/** What every node of the swarm may publish and subscribe to. */
export function nodeGrant(config: SwarmFile): { publish: string[]; subscribe: string[] } {
  const swarm = config.swarm;
  return {
    publish: [
      `${swarm}.task.>`,
      `${swarm}.event.>`,
      subjects.heartbeat(swarm),
      subjects.leave(swarm),
      `${swarm}.consensus.>`,
      `${swarm}.market.>`,
      `${swarm}.agent.>`,
      `${swarm}.dlq.>`,
      // Another run's leftovers, parked (src/runtime/run-identity.ts).
      subjects.allOtherRuns(swarm),
      // Replies to requests, and JetStream's own account-wide lookups.
      "_INBOX.>",
      "$JS.API.INFO",
      "$JS.API.STREAM.NAMES",
      "$JS.API.STREAM.LIST",
      ...streams(config).flatMap(streamApi),
    ],
    subscribe: [`${swarm}.>`, "_INBOX.>"],
  };
}

/**
 * A random password that no command line takes for an option: base64url
 * can start with "-", which `rabbitmqctl add_user` refused ("Invalid
 * options"), failing the generated script about once in 64 users.
 */
const password = (): string => {
  const text = randomBytes(24).toString("base64url");
  return text.startsWith("-") ? password() : text;
};

/** The grants for `nodes` (default: one node per agent) and the operator. */
export function natsGrants(config: SwarmFile, nodes?: readonly BrokerNode[]): NatsGrant[] {
  const declared = new Set(config.agents.map((a) => a.id));
  const groups = nodes ?? config.agents.map((a) => ({ name: a.id, agents: [a.id] }));
  const seen = new Set<string>();
  const names = new Set<string>();
  for (const node of groups) {
    if (names.has(node.name)) {
      throw new ConfigError(
        `node "${node.name}" is given twice; each --node names one broker user: list its agents once (--node ${node.name}=a,b)`,
      );
    }
    names.add(node.name);
    if (node.name === OPERATOR_USER) {
      throw new ConfigError(
        `"${OPERATOR_USER}" is the operator's user name; name the node otherwise`,
      );
    }
    for (const agent of node.agents) {
      if (!declared.has(agent)) {
        throw new ConfigError(`node ${node.name}: no agent "${agent}" in the swarm file`);
      }
      if (seen.has(agent))
        throw new ConfigError(`agent "${agent}" is in two nodes; give each agent one node`);
      seen.add(agent);
    }
  }
  const grant = nodeGrant(config);
  return [
    ...groups.map((node) => ({
      user: node.name,
      password: password(),
      agents: node.agents,
      ...grant,
    })),
    {
      user: OPERATOR_USER,
      password: password(),
      agents: [],
      publish: [...grant.publish, subjects.revoke(config.swarm)],
      subscribe: grant.subscribe,
    },
  ];
}

const quote = (s: string) => JSON.stringify(s);

/** The grants as a nats-server `authorization` block. */
export function natsAuthorization(grants: readonly NatsGrant[]): string {
  const users = grants.map(
    (g) => `    {
      user: ${quote(g.user)}
      password: ${quote(g.password)}
      permissions: {
        publish: { allow: [${g.publish.map(quote).join(", ")}] }
        subscribe: { allow: [${g.subscribe.map(quote).join(", ")}] }
      }
    }`,
  );
  return `# Generated by conclave broker-config nats: one user per node of the swarm.
authorization {
  users: [
${users.join("\n")}
  ]
}
`;
}

/** A regex matching exactly `text`. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");

/**
 * The RabbitMQ permissions of every node of the swarm, in the swarm's own
 * virtual host: resources (the swarm's exchanges and queues, named after it,
 * and the server-named queues of its subscriptions) and, on its topic
 * exchange, the routing keys it may publish — the swarm's subjects, except
 * revocations for all but the operator.
 */
export function rabbitmqGrant(config: SwarmFile, operator: boolean) {
  const swarm = literal(config.swarm);
  const resources = `^(${swarm}([-.].*)?|amq\\.gen-.*|amq\\.default)$`;
  const revoke = literal(subjects.revoke(config.swarm));
  return {
    configure: resources,
    write: resources,
    read: resources,
    topicWrite: operator ? `^${swarm}\\..*$` : `^(?!${revoke}$)${swarm}\\..*$`,
    topicRead: `^${swarm}\\..*$`,
  };
}

/** The grants as a shell script of `rabbitmqctl` commands, in virtual host `vhost`. */
export function rabbitmqScript(
  config: SwarmFile,
  grants: readonly NatsGrant[],
  vhost: string,
): string {
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const lines = [
    "#!/bin/sh",
    "# Generated by conclave broker-config rabbitmq: one user per node of the swarm, in its own virtual host.",
    "set -e",
    `rabbitmqctl add_vhost ${q(vhost)} || true`,
  ];
  for (const g of grants) {
    const p = rabbitmqGrant(config, g.user === OPERATOR_USER);
    lines.push(
      `rabbitmqctl add_user ${q(g.user)} ${q(g.password)} || rabbitmqctl change_password ${q(g.user)} ${q(g.password)}`,
      `rabbitmqctl set_permissions -p ${q(vhost)} ${q(g.user)} ${q(p.configure)} ${q(p.write)} ${q(p.read)}`,
      `rabbitmqctl set_topic_permissions -p ${q(vhost)} ${q(g.user)} ${q(config.swarm)} ${q(p.topicWrite)} ${q(p.topicRead)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Parses `--node name=a,b`. */
export function parseNode(value: string): BrokerNode {
  const match = /^([A-Za-z0-9_-]{1,64})=([A-Za-z0-9_,-]+)$/.exec(value);
  if (!match?.[1] || !match[2]) {
    throw new ConfigError(
      `--node ${value}: expected NAME=agent[,agent…], e.g. --node worker-a=dev-1,dev-2`,
    );
  }
  return { name: match[1], agents: match[2].split(",").filter(Boolean) };
}

/** Writes RabbitMQ's `<out>/rabbitmq-users.sh` and `<out>/nodes.json` (mode 0600); exit 0. */
export async function writeRabbitmqConfig(
  file: string,
  options: {
    readonly out: string;
    readonly nodes?: readonly BrokerNode[];
    readonly vhost?: string;
  },
): Promise<number> {
  const config = await loadSwarmConfig(file);
  const grants = natsGrants(config, options.nodes);
  const vhost = options.vhost ?? config.swarm;
  const out = resolve(options.out);
  await writingTo({ what: "the RabbitMQ users", path: out, option: "--out" }, () => {
    mkdirSync(out, { recursive: true, mode: 0o700 });
    writeFileSync(join(out, "rabbitmq-users.sh"), rabbitmqScript(config, grants, vhost), {
      mode: 0o700,
    });
    writeNodes(out, grants);
  });
  process.stdout.write(
    `wrote ${join(out, "rabbitmq-users.sh")} (${grants.length} users in virtual host ${vhost}) and ${join(out, "nodes.json")} (their passwords: keep it secret)
run it where rabbitmqctl reaches the broker:  sh ${join(out, "rabbitmq-users.sh")}
then run each node with its user, e.g. with transport: "\${AMQP_URL}" in the swarm file:
  AMQP_URL=amqp://${grants[0]?.user}:<password>@HOST:5672/${encodeURIComponent(vhost)} conclave agent --swarm ${file} --id ${grants[0]?.agents.join(",")}
`,
  );
  return 0;
}

function writeNodes(out: string, grants: readonly NatsGrant[]): void {
  writeFileSync(
    join(out, "nodes.json"),
    `${JSON.stringify(
      grants.map(({ user, password, agents }) => ({ user, password, agents })),
      null,
      2,
    )}\n`,
    { mode: 0o600 },
  );
}

/** Writes `<out>/nats-auth.conf` and `<out>/nodes.json` (mode 0600); exit 0. */
export async function writeBrokerConfig(
  file: string,
  options: { readonly out: string; readonly nodes?: readonly BrokerNode[] },
): Promise<number> {
  const config = await loadSwarmConfig(file);
  const grants = natsGrants(config, options.nodes);
  const out = resolve(options.out);
  await writingTo({ what: "the NATS users", path: out, option: "--out" }, () => {
    mkdirSync(out, { recursive: true, mode: 0o700 });
    writeFileSync(join(out, "nats-auth.conf"), natsAuthorization(grants), { mode: 0o600 });
    writeNodes(out, grants);
  });
  const example = grants[0];
  process.stdout.write(
    `wrote ${join(out, "nats-auth.conf")} (${grants.length} users) and ${join(out, "nodes.json")} (their passwords: keep it secret)
include it in the nats-server configuration:  include ${join(out, "nats-auth.conf")}
run each node with its user, e.g. with transport: "\${NATS_URL}" in the swarm file:
  NATS_URL=nats://${example?.user}:<password>@HOST:4222 conclave agent --swarm ${file} --id ${example?.agents.join(",")}
revoke with the operator's user (NATS_URL=nats://${OPERATOR_USER}:<password>@HOST:4222 conclave revoke …)
`,
  );
  return 0;
}
