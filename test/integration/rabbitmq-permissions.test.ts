/**
 * `conclave broker-config rabbitmq` on the local RabbitMQ: the generated
 * rabbitmqctl script makes the swarm its own virtual host and one user per
 * node; the review swarm runs to the end with its node's user; a user
 * without a grant there (guest) cannot open the swarm; a node's user may not
 * publish revocations (the broker closes its channel, 403), while the
 * operator's may.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { finish, root, run, start } from "../cli/run-cli.js";
import { amqpMissing, randomSwarmName } from "./fixtures/processes.js";

interface NodeCredentials {
  user: string;
  password: string;
  agents: string[];
}

function hasRabbitmqctl(): boolean {
  try {
    execFileSync("rabbitmqctl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Publishes as `user` and resolves with the channel's error, if the broker refused. */
async function publishAs(
  url: string,
  exchange: string,
  routingKey: string,
): Promise<string | undefined> {
  const amqplib = (await import("amqplib")).default;
  const connection = await amqplib.connect(url, { timeout: 10_000 });
  let refused: string | undefined;
  try {
    const channel = await connection.createConfirmChannel();
    channel.on("error", (error: Error) => {
      refused = error.message;
    });
    await new Promise<void>((resolve) => {
      channel.publish(exchange, routingKey, Buffer.from("{}"), {}, () => resolve());
      setTimeout(resolve, 1000);
    });
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    await connection.close().catch(() => undefined);
  }
  return refused;
}

describe("broker permissions per node (RabbitMQ)", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-rabbitmq-permissions-"));
  const swarm = randomSwarmName("perm");
  let users: string[] = [];
  after(() => {
    for (const user of users) {
      try {
        execFileSync("rabbitmqctl", ["delete_user", user], { stdio: "ignore" });
      } catch {
        // already gone
      }
    }
    try {
      execFileSync("rabbitmqctl", ["delete_vhost", swarm], { stdio: "ignore" });
    } catch {
      // never made
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("the swarm runs in its virtual host on its users; guests cannot open it; nodes cannot revoke", async (t) => {
    const missing = (await amqpMissing()) ?? (hasRabbitmqctl() ? undefined : "no rabbitmqctl");
    if (missing !== undefined) {
      if (process.env["CI"] === "true") assert.fail(missing);
      t.skip(missing);
      return;
    }
    cpSync(join(root, "examples", "review-swarm"), dir, { recursive: true });
    const file = join(dir, "swarm.yaml");
    writeFileSync(
      file,
      readFileSync(file, "utf8")
        .replace("swarm: review-swarm", `swarm: ${swarm}`)
        .replace(
          "transport: memory",
          `transport: "\${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}"`,
        ),
    );
    const ids = [...readFileSync(file, "utf8").matchAll(/^\s*- id: ([\w-]+)/gm)].map((m) => m[1]);
    const generated = await run(
      [
        "broker-config",
        "rabbitmq",
        "--swarm",
        file,
        "--out",
        join(dir, "broker"),
        "--node",
        `node-${swarm}=${ids.join(",")}`,
      ],
      dir,
    );
    assert.equal(generated.code, 0, generated.stderr);
    const nodes = JSON.parse(
      readFileSync(join(dir, "broker", "nodes.json"), "utf8"),
    ) as NodeCredentials[];
    // Users are broker-wide: name the operator uniquely for this test, so runs never collide.
    const script = readFileSync(join(dir, "broker", "rabbitmq-users.sh"), "utf8").replaceAll(
      "'operator'",
      `'operator-${swarm}'`,
    );
    writeFileSync(join(dir, "broker", "rabbitmq-users.sh"), script);
    users = [`node-${swarm}`, `operator-${swarm}`];
    execFileSync("sh", [join(dir, "broker", "rabbitmq-users.sh")], { stdio: "ignore" });
    const url = (user: string, password: string) =>
      `amqp://${user}:${encodeURIComponent(password)}@127.0.0.1:5672/${swarm}`;
    const [node, operator] = nodes as [NodeCredentials, NodeCredentials];

    const up = await finish(
      start(["up", file, "--tasks", "30", "--json"], dir, {
        AMQP_URL: url(node.user, node.password),
      }),
    );
    assert.equal(up.code, 0, up.stderr.slice(-2000));
    const summary = JSON.parse(up.stdout.trim().split("\n").at(-1) ?? "{}") as {
      tasks: { submitted: number; lost: number };
      consensus: { proposals: number };
    };
    assert.equal(summary.tasks.submitted, 30);
    assert.equal(summary.tasks.lost, 0);
    assert.ok(summary.consensus.proposals > 0);

    // guest has no grant in the swarm's virtual host.
    const guest = await finish(
      start(["up", file, "--tasks", "1"], dir, {
        AMQP_URL: `amqp://guest:guest@127.0.0.1:5672/${swarm}`,
      }),
    );
    assert.notEqual(guest.code, 0);

    assert.match(
      (await publishAs(url(node.user, node.password), swarm, `${swarm}.registry.revoke`)) ?? "",
      /ACCESS_REFUSED|403/,
    );
    assert.equal(
      await publishAs(url(node.user, node.password), swarm, `${swarm}.event.note`),
      undefined,
    );
    assert.equal(
      await publishAs(
        url(`operator-${swarm}`, operator.password),
        swarm,
        `${swarm}.registry.revoke`,
      ),
      undefined,
    );
  });
});
