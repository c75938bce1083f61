/**
 * `conclave broker-config nats`: a private nats-server run with the
 * generated authorization. The review swarm (consensus, auctions, escrow)
 * runs to the end as one node with its user; without credentials a process
 * cannot connect; a node's user may not publish revocations nor touch
 * another swarm's subjects — the server refuses, whatever the node's code
 * does — while the operator's user may revoke.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { finish, root, run, start } from "../cli/run-cli.js";

interface NodeCredentials {
  user: string;
  password: string;
  agents: string[];
}

/** Publishes `subject` as `user` and resolves with the server's permission error, if any. */
async function publishAs(
  url: string,
  user: string,
  pass: string,
  subject: string,
): Promise<string | undefined> {
  const nc = await connect({ servers: url, user, pass });
  let refused: string | undefined;
  const watching = (async () => {
    for await (const s of nc.status()) {
      if (s.type === "error") refused = String((s as { error?: unknown }).error);
    }
  })();
  nc.publish(subject, "{}");
  await nc.flush();
  await new Promise((r) => setTimeout(r, 200));
  await nc.close();
  await watching;
  return refused;
}

describe("broker permissions per node (NATS)", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-nats-permissions-"));
  let broker: NatsServer | undefined;
  after(async () => {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the swarm runs on its users; outsiders cannot connect; nodes cannot revoke or leave their swarm", async (t) => {
    if (!natsServerAvailable() && process.env["CI"] !== "true") {
      t.skip("no nats-server binary on PATH");
      return;
    }
    cpSync(join(root, "examples", "review-swarm"), dir, { recursive: true });
    const file = join(dir, "swarm.yaml");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace(
        "transport: memory",
        `transport: "\${NATS_URL:-nats://127.0.0.1:4222}"`,
      ),
    );
    const ids = [...readFileSync(file, "utf8").matchAll(/^\s*- id: ([\w-]+)/gm)].map((m) => m[1]);
    const generated = await run(
      [
        "broker-config",
        "nats",
        "--swarm",
        file,
        "--out",
        join(dir, "broker"),
        "--node",
        `everyone=${ids.join(",")}`,
      ],
      dir,
    );
    assert.equal(generated.code, 0, generated.stderr);
    const nodes = JSON.parse(
      readFileSync(join(dir, "broker", "nodes.json"), "utf8"),
    ) as NodeCredentials[];
    assert.deepEqual(
      nodes.map((n) => n.user),
      ["everyone", "operator"],
    );
    broker = await startNatsServer({
      config: readFileSync(join(dir, "broker", "nats-auth.conf"), "utf8"),
    });
    const url = (user: NodeCredentials) =>
      broker?.url.replace("nats://", `nats://${user.user}:${encodeURIComponent(user.password)}@`) ??
      "";
    const [node, operator] = nodes as [NodeCredentials, NodeCredentials];

    // The whole review swarm, as one node with its user: tasks, consensus, auctions, escrow.
    const up = await finish(
      start(["up", file, "--tasks", "40", "--json"], dir, { NATS_URL: url(node) }),
    );
    assert.equal(up.code, 0, up.stderr.slice(-2000));
    const summary = JSON.parse(up.stdout.trim().split("\n").at(-1) ?? "{}") as {
      tasks: { submitted: number; lost: number };
      consensus: { proposals: number };
    };
    assert.equal(summary.tasks.submitted, 40);
    assert.equal(summary.tasks.lost, 0);
    assert.ok(summary.consensus.proposals > 0);

    // No credentials: the server does not let it in.
    const outsider = await finish(
      start(["up", file, "--tasks", "1"], dir, { NATS_URL: broker.url }),
    );
    assert.notEqual(outsider.code, 0);
    assert.match(outsider.stderr, /[Aa]uthorization/);

    // A node may not revoke, nor publish into another swarm; the operator may revoke.
    assert.match(
      (await publishAs(broker.url, node.user, node.password, "review-swarm.registry.revoke")) ?? "",
      /Permissions Violation/i,
    );
    assert.match(
      (await publishAs(broker.url, node.user, node.password, "other-swarm.task.dev.code")) ?? "",
      /Permissions Violation/i,
    );
    assert.equal(
      await publishAs(broker.url, node.user, node.password, "review-swarm.event.note"),
      undefined,
    );
    assert.equal(
      await publishAs(broker.url, operator.user, operator.password, "review-swarm.registry.revoke"),
      undefined,
    );
  });
});
