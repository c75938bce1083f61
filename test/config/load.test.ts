import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  loadSwarmConfig,
  parseSwarmConfig,
  swarmConfigSchema,
  swarmJsonSchema,
  validateSwarmConfig,
} from "../../src/config/index.js";
import { ConfigError } from "../../src/errors/index.js";
import { MINIMAL } from "./helpers.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/review-swarm/swarm.yaml", import.meta.url));

describe("parseSwarmConfig: defaults", () => {
  const config = parseSwarmConfig(MINIMAL, { baseDir: "/srv/demo", env: {} });

  test("top-level defaults", () => {
    assert.equal(config.swarm, "demo");
    assert.equal(config.transport, "memory");
    assert.equal(config.signing, "required");
    assert.equal(config.dataDir, resolve("/srv/demo/.conclave"));
    assert.equal(config.keysDir, resolve("/srv/demo/.conclave/keys"));
    assert.equal(config.store, `sqlite:${resolve("/srv/demo/.conclave/demo.db")}`);
    assert.equal(config.module, undefined);
    assert.equal(config.description, undefined);
    assert.deepEqual(config.limits, { maxEnvelopeBytes: 1024 * 1024 });
    assert.deepEqual(config.workload, {});
  });

  test("delivery and liveness defaults", () => {
    assert.deepEqual(config.defaults, {
      ackWaitMs: 30_000,
      maxDeliver: 5,
      concurrency: 4,
      backoff: { baseMs: 200, maxMs: 30_000, factor: 2, jitter: "full" },
      heartbeatMs: 1000,
      suspectAfterMs: 3000,
      leftAfterMs: 10_000,
      dedupWindowMs: 120_000,
    });
  });

  test("roles and agents inherit the defaults", () => {
    assert.deepEqual(config.roles["worker"], {
      name: "worker",
      tasks: ["echo"],
      ackWaitMs: 30_000,
      maxDeliver: 5,
      concurrency: 4,
      backoff: { baseMs: 200, maxMs: 30_000, factor: 2, jitter: "full" },
      ordering: "none",
      routing: "round-robin",
    });
    assert.deepEqual(config.agents, [
      {
        id: "w-1",
        role: "worker",
        tags: [],
        capabilities: [],
        weight: 1,
        concurrency: 4,
        options: {},
      },
    ]);
  });

  test("the result is deeply frozen", () => {
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.defaults.backoff));
    assert.ok(Object.isFrozen(config.roles["worker"]?.tasks));
    assert.ok(Object.isFrozen(config.agents[0]?.options));
    assert.throws(() => {
      (config as { swarm: string }).swarm = "other";
    }, TypeError);
  });

  test("liveness defaults follow heartbeatMs", () => {
    const slow = parseSwarmConfig(`${MINIMAL}defaults:\n  heartbeatMs: 2000\n`, { env: {} });
    assert.equal(slow.defaults.suspectAfterMs, 6000);
    assert.equal(slow.defaults.leftAfterMs, 20_000);
    const suspectOnly = parseSwarmConfig(`${MINIMAL}defaults:\n  suspectAfterMs: 5000\n`, {
      env: {},
    });
    assert.equal(suspectOnly.defaults.leftAfterMs, 12_000);
  });
});

describe("loadSwarmConfig: a full file", async () => {
  const env = { AMQP_USER: "conclave", AMQP_PASS: "s3cret" };
  const config = await loadSwarmConfig(FIXTURE, { env });
  const dir = resolve(FIXTURE, "..");

  test("every top-level field as written", () => {
    assert.equal(config.swarm, "review-swarm");
    assert.equal(config.description, "Developers write code, reviewers review it.");
    assert.equal(config.transport, "amqp://conclave:s3cret@rabbit.internal:5672/conclave");
    assert.equal(config.signing, "optional");
    assert.equal(config.limits.maxEnvelopeBytes, 2_097_152);
    assert.deepEqual(config.workload, { tasks: 200 });
  });

  test("relative paths resolve against the file's folder, absolute ones stay", () => {
    assert.equal(config.dataDir, join(dir, ".state"));
    assert.equal(config.keysDir, resolve("/etc/conclave/keys"));
    assert.equal(config.module, join(dir, "agents.mjs"));
    assert.equal(config.store, `sqlite:${join(dir, "state/review.db")}`);
  });

  test("role overrides merge over the defaults", () => {
    const developer = config.roles["developer"];
    assert.deepEqual(developer, {
      name: "developer",
      description: "Writes code.",
      tasks: ["code", "code.fix"],
      ackWaitMs: 60_000,
      maxDeliver: 3,
      concurrency: 2,
      backoff: { baseMs: 100, maxMs: 1000, factor: 3, jitter: "equal" },
      ordering: "conversation",
      routing: "least-loaded",
    });
    assert.equal(config.roles["reviewer"]?.maxDeliver, 10);
    assert.equal(config.roles["reviewer"]?.ackWaitMs, 5000);
    assert.equal(config.roles["reviewer"]?.routing, "reputation");
    assert.deepEqual(config.roles["reporter"]?.tasks, []);
  });

  test("every key a role accepts reaches the parsed role (gapTimeoutMs was dropped)", () => {
    const parsed = parseSwarmConfig(
      `swarm: every-key
roles:
  w:
    description: Works.
    tasks: [x]
    ackWaitMs: 30000
    maxDeliver: 4
    concurrency: 2
    backoff: { baseMs: 10 }
    ordering: conversation
    gapTimeoutMs: 50
    routing: least-loaded
    maxPending: 100
    remote: { a2a: "https://agent.example/a2a" }
agents: [{ id: w1, role: w }]
`,
      { env: {} },
    );
    const role = parsed.roles["w"] as unknown as Record<string, unknown>;
    const roles = swarmJsonSchema()["properties"] as Record<
      string,
      { additionalProperties: { properties: Record<string, unknown> } }
    >;
    for (const key of Object.keys(roles["roles"]?.additionalProperties.properties ?? {})) {
      assert.ok(key in role, `roles.w.${key} was accepted but is not in the parsed role`);
    }
    assert.equal(role["gapTimeoutMs"], 50);
  });

  test("agent concurrency: own override, else its role's, else the default", () => {
    const byId = new Map(config.agents.map((agent) => [agent.id, agent]));
    assert.equal(byId.get("dev-1")?.concurrency, 1);
    assert.equal(byId.get("dev-2")?.concurrency, 2);
    assert.equal(byId.get("rev-1")?.concurrency, 8);
    assert.equal(byId.get("dev-1")?.weight, 2.5);
    assert.deepEqual(byId.get("dev-1")?.tags, ["ts", "backend"]);
    assert.deepEqual(byId.get("dev-1")?.options, { flakiness: 0.1 });
    assert.deepEqual(byId.get("rev-1")?.options, { model: "gpt-4o-mini" });
  });

  test("the liveness settings as written", () => {
    assert.equal(config.defaults.heartbeatMs, 500);
    assert.equal(config.defaults.suspectAfterMs, 2000);
    assert.equal(config.defaults.leftAfterMs, 6000);
    assert.equal(config.defaults.dedupWindowMs, 300_000);
  });
});

describe("paths", () => {
  test("baseDir defaults to the swarm file's folder, whatever the working directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "conclave-config-"));
    try {
      await writeFile(join(dir, "swarm.yaml"), `${MINIMAL}module: agents.mjs\n`);
      const config = await loadSwarmConfig(join(dir, "swarm.yaml"), { env: {} });
      assert.equal(config.dataDir, join(dir, ".conclave"));
      assert.equal(config.keysDir, join(dir, ".conclave", "keys"));
      assert.equal(config.store, `sqlite:${join(dir, ".conclave", "demo.db")}`);
      assert.equal(config.module, join(dir, "agents.mjs"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("keysDir follows a custom dataDir", () => {
    const config = parseSwarmConfig(`${MINIMAL}dataDir: ../state\n`, {
      baseDir: "/srv/demo",
      env: {},
    });
    assert.equal(config.dataDir, resolve("/srv/state"));
    assert.equal(config.keysDir, resolve("/srv/state/keys"));
    assert.equal(config.store, `sqlite:${resolve("/srv/state/demo.db")}`);
  });

  test("gateway.tls files resolve against the swarm file's folder, as broker.tls do", () => {
    const config = parseSwarmConfig(
      `${MINIMAL}gateway:\n  as: w-1\n  tls: { cert: tls/srv.pem, key: ./tls/srv.key, ca: /etc/ca.pem }\n  expose: [{ role: worker, task: echo }]\n`,
      { baseDir: "/srv/demo", env: {} },
    );
    assert.deepEqual(config.gateway?.tls, {
      cert: resolve("/srv/demo/tls/srv.pem"),
      key: resolve("/srv/demo/tls/srv.key"),
      ca: resolve("/etc/ca.pem"),
    });
  });

  test("in-memory sqlite and postgres URLs are left alone", () => {
    const memory = parseSwarmConfig(`${MINIMAL}store: "sqlite::memory:"\n`, { env: {} });
    assert.equal(memory.store, "sqlite::memory:");
    const url = "postgresql://app:pw@db.internal:5432/conclave?sslmode=require";
    const pg = parseSwarmConfig(`${MINIMAL}store: "${url}"\n`, { env: {} });
    assert.equal(pg.store, url);
  });

  test("a missing file is a ConfigError naming it", async () => {
    await assert.rejects(loadSwarmConfig("/nonexistent/swarm.yaml"), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /\/nonexistent\/swarm\.yaml: no such file/);
      assert.equal(error.code, "E_CONFIG");
      return true;
    });
  });
});

describe("other entry points", () => {
  test("validateSwarmConfig takes a plain object", () => {
    const config = validateSwarmConfig(
      { swarm: "demo", roles: { worker: {} }, agents: [{ id: "w-1", role: "worker" }] },
      { baseDir: "/srv/demo" },
    );
    assert.equal(config.dataDir, resolve("/srv/demo/.conclave"));
    assert.throws(
      () => validateSwarmConfig({ swarm: "demo", roles: {}, agents: [] }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.details.some((issue) => issue.path === "agents" && issue.line === undefined),
    );
  });

  test("the bare schema applies defaults but keeps paths relative", () => {
    const config = swarmConfigSchema.parse({
      swarm: "demo",
      roles: { worker: { tasks: ["echo"] } },
      agents: [{ id: "w-1", role: "worker" }],
    });
    assert.equal(config.dataDir, ".conclave");
    assert.equal(config.store, `sqlite:${join(".conclave", "demo.db")}`);
    assert.equal(config.roles["worker"]?.maxDeliver, 5);
  });

  test("YAML merge keys share settings between agents", () => {
    const config = parseSwarmConfig(
      `swarm: demo
roles: { worker: {} }
agents:
  - &common { id: w-1, role: worker, tags: [gpu] }
  - { <<: *common, id: w-2 }
`,
      { env: {} },
    );
    assert.deepEqual(config.agents[1]?.tags, ["gpu"]);
    assert.equal(config.agents[1]?.id, "w-2");
  });
});
