/**
 * The commands that only read a swarm's store (`ledger show`, `results`,
 * `tasks show`, `audit verify`, `dead-letters list`) need the variables of
 * the fields they read (the store, the data folder, the swarm's name), not
 * the secrets only running the swarm uses: a remote role's token, an MCP
 * server's, the gateway's, the broker's password. They used to refuse the
 * swarm file while any `${VAR}` in it was unset in the reading shell. A
 * variable whose literal `${VAR}` the file cannot hold (a URL field) is
 * still refused, with a message naming it and saying it is only needed to
 * run the swarm; one in the store itself is refused as before.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { openStore } from "../../src/store/open-store.js";
import { agents, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-read-only-vars-"));
after(() => rmSync(work, { recursive: true, force: true }));

const SECRETS = [
  "RO_AMQP_PASSWORD",
  "RO_REMOTE_TOKEN",
  "RO_MCP_TOKEN",
  "RO_GATEWAY_TOKEN",
  "RO_KEY",
];
for (const name of [...SECRETS, "RO_MCP_URL", "RO_STORE_DIR"]) delete process.env[name];

function swarmText(name: string): string {
  return `swarm: ${name}
transport: amqp://app:\${RO_AMQP_PASSWORD}@127.0.0.1:5672
dataDir: ./${name}-state
module: ${agents}
roles:
  worker: { tasks: [job] }
  helper: { tasks: [ask], remote: { a2a: "https://helper.example/.well-known/agent-card.json", token: "\${RO_REMOTE_TOKEN}" } }
agents:
  - { id: w-1, role: worker, options: { apiKey: "\${RO_KEY}" } }
  - { id: h-1, role: helper }
mcp:
  search: { url: "https://mcp.example/mcp", token: "\${RO_MCP_TOKEN}" }
gateway:
  as: w-1
  tokens: { ide: "\${RO_GATEWAY_TOKEN}" }
  expose: [{ role: worker, task: job }]
`;
}

function writeSwarm(name: string, text = swarmText(name)): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

const file = writeSwarm("read-only");

before(async () => {
  const store = await openStore(`sqlite:${join(work, "read-only-state", "read-only.db")}`, {
    create: true,
  });
  await store.close();
});

for (const args of [
  ["ledger", "show"],
  ["results"],
  ["audit", "verify"],
  ["dead-letters", "list"],
]) {
  test(`${args.join(" ")} --swarm: the run's secrets unset, exit 0`, async () => {
    const r = await run([...args, "--swarm", file], work);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /is not set/);
  });
}

test("tasks show --swarm: the run's secrets unset, the task looked up (exit 1: no such task)", async () => {
  const r = await run(["tasks", "show", "t-1", "--swarm", file], work);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /no task t-1 in this store/);
});

test("a variable in a field that cannot hold its reference as written is named, as needed only to run", async () => {
  const url = writeSwarm(
    "read-only-url",
    swarmText("read-only-url").replace("https://mcp.example/mcp", `\${RO_MCP_URL}`),
  );
  const r = await run(["ledger", "show", "--swarm", url], work);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /mcp\.search\.url: environment variable RO_MCP_URL is not set/);
  assert.match(r.stderr, /only running the swarm uses it/);
  assert.doesNotMatch(r.stderr, /RO_MCP_TOKEN|RO_REMOTE_TOKEN|RO_GATEWAY_TOKEN/);
});

test("a variable in the store's own place is still required", async () => {
  const r = await run(
    [
      "ledger",
      "show",
      "--swarm",
      writeSwarm(
        "read-only-dir",
        swarmText("read-only-dir").replace("./read-only-dir-state", `\${RO_STORE_DIR}`),
      ),
    ],
    work,
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /dataDir: environment variable RO_STORE_DIR is not set/);
});

test("up still needs every variable", async () => {
  const r = await run(["up", file, "--timeout", "5"], work);
  assert.equal(r.code, 2, r.stderr);
  for (const name of SECRETS) assert.match(r.stderr, new RegExp(`${name} is not set`));
});

test("parseSwarmConfig variablesNeededOnlyUnder: unset elsewhere left as written, malformed still refused", () => {
  const text = `swarm: s
roles:
  helper: { tasks: [ask], remote: { a2a: "https://h.example/card.json", token: "\${RO_REMOTE_TOKEN}" } }
agents: [{ id: h-1, role: helper }]
`;
  const options = { env: {}, variablesNeededOnlyUnder: ["swarm", "store"] };
  const config = parseSwarmConfig(text, options);
  assert.equal(config.roles["helper"]?.remote?.token, `\${RO_REMOTE_TOKEN}`);
  assert.throws(() => parseSwarmConfig(text, { env: {} }), /RO_REMOTE_TOKEN is not set/);
  assert.throws(
    () => parseSwarmConfig(text.replace(`\${RO_REMOTE_TOKEN}`, `\${RO_REMOTE TOKEN}`), options),
    /malformed variable reference/,
  );
  assert.throws(
    () => parseSwarmConfig(`store: "sqlite:\${RO_STORE}"\n${text}`, options),
    /store: environment variable RO_STORE is not set; set it or give a default with \$\{RO_STORE:-default\}$/m,
  );
});
