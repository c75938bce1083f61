/**
 * `conclave dashboard --swarm FILE` (and `conclave top`) watching a swarm that runs in another
 * process on a private nats-server: the observer hosts no agent, hears the
 * agents' heartbeats on the broker, reads the shared store, and answers the
 * API with the token only. On the embedded transport it explains what to do.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { finish, reviewSwarmYaml, run, start } from "../cli/run-cli.js";
import { until } from "../helpers/until.js";

const TOKEN = "observer-token-0123456789abcdef";

describe("conclave dashboard on a broker", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-dashboard-nats-"));
  let broker: NatsServer | undefined;
  after(async () => {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("an observer process shows the agents of a swarm run elsewhere, with the token only", async (t) => {
    if (!natsServerAvailable() && process.env["CI"] !== "true") {
      t.skip("no nats-server binary on PATH");
      return;
    }
    broker = await startNatsServer();
    const file = join(dir, "swarm.yaml");
    writeFileSync(
      file,
      reviewSwarmYaml({
        name: "observed",
        head: `transport: ${broker.url}\n`,
        workload: { tasks: 4 },
      }),
    );
    const swarm = start(["up", file, "--forever"], dir);
    const swarmDone = finish(swarm);
    // An observer reads the swarm's store and never creates one: start it once the run has.
    await until(
      () => existsSync(join(dir, ".conclave", "observed.db")),
      30_000,
      "the swarm's store",
    );
    const observer = start(["dashboard", "--swarm", file, "--port", "0"], dir, {
      CONCLAVE_DASHBOARD_TOKEN: TOKEN,
    });
    let stderr = "";
    observer.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const observerDone = finish(observer);
    try {
      await until(() => /dashboard: http/.test(stderr), 30_000, "the dashboard's link");
      const link = /dashboard: (\S+)/.exec(stderr)?.[1] ?? "";
      assert.match(link, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/\\?token=${TOKEN}$`));
      const base = link.replace(/\/\?token=.*/, "");
      const get = (path: string) =>
        fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal((await fetch(`${base}/api/agents`)).status, 401);
      let agents: { id: string; liveness: string }[] = [];
      await until(
        async () => {
          agents = (await (await get("/api/agents")).json()) as typeof agents;
          return agents.filter((a) => a.liveness === "alive").length === 5;
        },
        30_000,
        "the five agents heard alive over the broker",
        200,
      );
      await until(
        async () => {
          const overview = (await (await get("/api/overview")).json()) as {
            tasks: { completed: number };
          };
          return overview.tasks.completed > 0;
        },
        30_000,
        "completed tasks read from the shared store",
        200,
      );
      assert.equal((await get("/api/decisions")).status, 200);
      // conclave top, once: the same agents heard from a third process.
      const top = await run(["top", "--swarm", file, "--once", "--interval", "3"], dir);
      assert.equal(top.code, 0, top.stderr);
      assert.match(top.stdout, /conclave top — observed/);
      assert.match(top.stdout, /dev-1\s+developer\s+alive\s+active/);
      const json = await run(["top", "--swarm", file, "--once", "--json", "--interval", "3"], dir);
      const snapshot = JSON.parse(json.stdout) as { agents: { liveness: string }[] };
      assert.equal(snapshot.agents.filter((a) => a.liveness === "alive").length, 5);
    } finally {
      observer.kill("SIGTERM");
      swarm.kill("SIGTERM");
    }
    assert.equal((await observerDone).code, 0, stderr);
    await swarmDone;
  });

  test("up --dashboard serves the dashboard while the run goes, and closes with it", async () => {
    const file = join(dir, "local.yaml");
    writeFileSync(file, reviewSwarmYaml({ name: "local", workload: { tasks: 2 } }));
    const result = await run(["up", file, "--dashboard", "0"], dir);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /dashboard: http:\/\/127\.0\.0\.1:\d+\/\?token=\S{20,}/);
  });

  test("on the embedded transport it says to use up --dashboard", async () => {
    const file = join(dir, "embedded.yaml");
    writeFileSync(file, reviewSwarmYaml({ name: "embedded", workload: { tasks: 1 } }));
    const result = await run(["dashboard", "--swarm", file], dir);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /up --dashboard/);
  });
});
