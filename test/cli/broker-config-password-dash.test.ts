/**
 * The passwords `conclave broker-config rabbitmq` generates never start
 * with "-". A base64url password can; `rabbitmqctl add_user NAME -xyz…`
 * then takes it for an option and refuses ("Invalid options for this
 * command"), failing the generated script for about one user in 64 (it
 * failed the RabbitMQ permissions test twice in a row in CI).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { agents, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-broker-password-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("no generated password starts with a dash (400 users)", async () => {
  const ids = Array.from({ length: 400 }, (_, i) => `w-${i}`);
  writeFileSync(
    join(work, "swarm.yaml"),
    `swarm: dash
module: ${agents}
transport: amqp://guest:guest@127.0.0.1:5672
roles: { worker: { tasks: [t] } }
agents:
${ids.map((id) => `  - { id: ${id}, role: worker }`).join("\n")}
`,
  );
  const r = await run(
    [
      "broker-config",
      "rabbitmq",
      "--swarm",
      "swarm.yaml",
      "--out",
      "broker",
      ...ids.flatMap((id) => ["--node", `node-${id}=${id}`]),
    ],
    work,
  );
  assert.equal(r.code, 0, r.stderr);
  const nodes = JSON.parse(readFileSync(join(work, "broker", "nodes.json"), "utf8")) as {
    password: string;
  }[];
  assert.ok(nodes.length >= 400, `${nodes.length} users`);
  const dashed = nodes.filter((n) => n.password.startsWith("-"));
  assert.deepEqual(dashed, [], "a password rabbitmqctl would take for an option");
});
