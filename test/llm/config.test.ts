// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about literal ${VAR} references.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { ConfigError } from "../../src/errors/index.js";
import { createPriceTable } from "../../src/ledger/prices.js";
import {
  loadAgentLlm,
  ModelNotConfiguredError,
  modelsUsedBy,
  openModelPool,
  resolveModels,
} from "../../src/llm/index.js";
import { issueAt, issuesOf } from "../config/helpers.js";

const BASE = `swarm: demo
roles:
  researcher:
    tasks: [research]
agents:
  - id: r-1
    role: researcher
    llm:
      model: fast
      tools: [search.web]
prices:
  models:
    gpt-4.1-mini: { input: 0.4, output: 1.6 }
    claude-sonnet-4-5: { input: 3, output: 15 }
`;

const MODELS = `models:
  fast: { provider: openai-compatible, baseURL: "\${OPENAI_BASE_URL}", apiKey: "\${OPENAI_API_KEY}", model: "\${CONCLAVE_MODEL:-gpt-4.1-mini}" }
  smart: { provider: anthropic, apiKey: "\${ANTHROPIC_API_KEY}", model: claude-sonnet-4-5, fallback: fast }
`;

describe("models: in the swarm file", () => {
  test("the issue's example parses without its variables, left as written", () => {
    const config = parseSwarmConfig(BASE + MODELS, { env: {} });
    assert.deepEqual(config.models["fast"], {
      name: "fast",
      provider: "openai-compatible",
      baseURL: "${OPENAI_BASE_URL}",
      apiKey: "${OPENAI_API_KEY}",
      model: "${CONCLAVE_MODEL:-gpt-4.1-mini}",
      timeoutMs: 120_000,
      maxRetries: 3,
      headers: {},
      breaker: { failures: 5, coolDownMs: 30_000 },
    });
    assert.equal(config.models["smart"]?.fallback, "fast");
    assert.deepEqual(config.agents[0]?.llm, {
      model: "fast",
      tools: ["search.web"],
      maxSteps: 8,
      maxOutputTokens: 4096,
      toolBudget: 0,
      publishDeltas: false,
    });
  });

  test("openai and anthropic keys default to their conventional variables", () => {
    const config = parseSwarmConfig(
      `${BASE}models:\n  fast: { provider: openai, model: gpt-4.1-mini }\n  smart: { provider: anthropic, model: claude-sonnet-4-5 }\n`,
      { env: {} },
    );
    assert.equal(config.models["fast"]?.apiKey, "${OPENAI_API_KEY}");
    assert.equal(config.models["smart"]?.apiKey, "${ANTHROPIC_API_KEY}");
  });

  test("a literal key is refused without being echoed, and the message names the variable", () => {
    const issues = issuesOf(
      `${BASE}models:\n  fast: { provider: openai, apiKey: sk-live-abcdef123456, model: gpt-4.1-mini }\n`,
    );
    const issue = issueAt(issues, "models.fast.apiKey");
    assert.match(issue.message, /\$\{OPENAI_API_KEY\}/);
    assert.match(issue.message, /literal key in the file is refused/);
    assert.doesNotMatch(JSON.stringify(issues), /sk-live/);
    assert.equal(issue.line, 16);
  });

  test("a credential header must be a reference too", () => {
    const issues = issuesOf(
      `${BASE}models:\n  fast: { provider: openai-compatible, baseURL: "http://127.0.0.1:1/v1", model: m, headers: { Authorization: "Bearer abc" } }\n`,
    );
    assert.match(issueAt(issues, "models.fast.headers.Authorization").message, /\$\{VAR\}/);
  });

  test("an openai-compatible model needs a base URL, and a literal one must be http(s)", () => {
    const missing = issuesOf(`${BASE}models:\n  fast: { provider: openai-compatible, model: m }\n`);
    assert.match(issueAt(missing, "models.fast.baseURL").message, /needs the server's URL/);
    const bad = issuesOf(
      `${BASE}models:\n  fast: { provider: openai-compatible, baseURL: "ftp://x", model: m }\n`,
    );
    assert.match(issueAt(bad, "models.fast.baseURL").message, /http:\/\/ or https:\/\//);
  });

  test("an unknown fallback is refused with a suggestion", () => {
    const issues = issuesOf(
      `${BASE}models:\n  fast: { provider: openai, model: gpt-4.1-mini, fallback: smrt }\n  smart: { provider: openai, model: gpt-4.1-mini }\n`,
    );
    assert.match(issueAt(issues, "models.fast.fallback").message, /did you mean "smart"/);
  });

  test("a fallback cycle is refused once, naming its path", () => {
    const issues = issuesOf(
      `${BASE}models:\n  fast: { provider: openai, model: gpt-4.1-mini, fallback: smart }\n  smart: { provider: openai, model: gpt-4.1-mini, fallback: fast }\n  solo: { provider: openai, model: gpt-4.1-mini, fallback: solo }\n`,
    );
    assert.match(issueAt(issues, "models.fast.fallback").message, /fast → smart → fast/);
    assert.match(issueAt(issues, "models.solo.fallback").message, /solo → solo/);
    assert.equal(issues.filter((i) => i.path === "models.smart.fallback").length, 0);
  });

  test("an agent naming an undefined model is refused", () => {
    const issues = issuesOf(BASE);
    assert.match(issueAt(issues, "agents.0.llm.model").message, /add a models: section/);
  });

  test("modelsUsedBy follows fallbacks", () => {
    const config = parseSwarmConfig(BASE.replace("model: fast", "model: smart") + MODELS, {
      env: {},
    });
    assert.deepEqual(modelsUsedBy(config.agents, config.models), ["fast", "smart"]);
  });
});

describe("resolveModels at start", () => {
  const config = parseSwarmConfig(BASE + MODELS, { env: {} });
  const prices = createPriceTable(config.prices);

  test("substitutes the environment", () => {
    const models = resolveModels(config.models, {
      prices,
      env: {
        OPENAI_BASE_URL: "http://127.0.0.1:11434/v1",
        OPENAI_API_KEY: "k1",
        ANTHROPIC_API_KEY: "k2",
      },
    });
    assert.equal(models["fast"]?.baseURL, "http://127.0.0.1:11434/v1");
    assert.equal(models["fast"]?.apiKey, "k1");
    assert.equal(models["fast"]?.modelId, "gpt-4.1-mini");
    assert.equal(models["fast"]?.priceKey, "gpt-4.1-mini");
    assert.equal(models["smart"]?.modelId, "claude-sonnet-4-5");
  });

  test("unset variables fail with a typed error naming every one to set", () => {
    assert.throws(
      () => resolveModels(config.models, { prices, env: { OPENAI_API_KEY: "" } }),
      (error: unknown) => {
        assert.ok(error instanceof ModelNotConfiguredError);
        assert.ok(error instanceof ConfigError, "a ConfigError, so the CLI exits 2");
        assert.equal(error.code, "E_MODEL_NOT_CONFIGURED");
        assert.deepEqual(error.variables, [
          "ANTHROPIC_API_KEY",
          "OPENAI_API_KEY",
          "OPENAI_BASE_URL",
        ]);
        assert.deepEqual([...error.models].sort(), ["fast", "smart"]);
        assert.match(error.message, /set ANTHROPIC_API_KEY, OPENAI_API_KEY, OPENAI_BASE_URL/);
        return true;
      },
    );
  });

  test("only the models asked for (and their fallbacks) need their variables", () => {
    const models = resolveModels(config.models, {
      prices,
      names: ["fast"],
      env: { OPENAI_BASE_URL: "http://127.0.0.1:1/v1", OPENAI_API_KEY: "k" },
    });
    assert.deepEqual(Object.keys(models), ["fast"]);
    // A node hosting no LLM agent resolves nothing and needs nothing.
    const empty = parseSwarmConfig(BASE.replace(/ {4}llm:\n.*\n.*\n/, "") + MODELS, { env: {} });
    assert.equal(openModelPool(empty, { env: {} }).has("fast"), false);
  });

  test("a model missing from prices is a configuration error at start", () => {
    assert.throws(
      () =>
        resolveModels(config.models, {
          prices,
          names: ["fast"],
          env: {
            OPENAI_BASE_URL: "http://127.0.0.1:1/v1",
            OPENAI_API_KEY: "k",
            CONCLAVE_MODEL: "llama3.2",
          },
        }),
      (error: unknown) =>
        error instanceof ConfigError &&
        !(error instanceof ModelNotConfiguredError) &&
        /no price for model "llama3.2" \(models.fast\)/.test(error.message) &&
        error.details[0]?.path === "prices.models",
    );
  });

  test("a model may be priced under its entry name (a local model whose id varies)", () => {
    const local = createPriceTable({
      version: "1",
      creditsPerUsd: 1_000_000,
      models: { fast: { input: 0, output: 0 } },
    });
    const models = resolveModels(config.models, {
      prices: local,
      names: ["fast"],
      env: {
        OPENAI_BASE_URL: "http://127.0.0.1:1/v1",
        OPENAI_API_KEY: "k",
        CONCLAVE_MODEL: "llama3.2",
      },
    });
    assert.equal(models["fast"]?.priceKey, "fast");
  });

  test("a base URL that is not http(s) once substituted is refused", () => {
    assert.throws(
      () =>
        resolveModels(config.models, {
          prices,
          names: ["fast"],
          env: { OPENAI_BASE_URL: "localhost:11434", OPENAI_API_KEY: "k" },
        }),
      (error: unknown) =>
        error instanceof ConfigError && error.details[0]?.path === "models.fast.baseURL",
    );
  });
});

describe("loadAgentLlm", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "conclave-llm-"));
    await writeFile(join(dir, "prompt.md"), "You are a careful researcher.");
    await writeFile(
      join(dir, "finding.json"),
      JSON.stringify({
        type: "object",
        properties: { claim: { type: "string" } },
        required: ["claim"],
      }),
    );
    await writeFile(join(dir, "broken.json"), "{ not json");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const llm = {
    model: "fast",
    tools: ["search.web"],
    maxSteps: 4,
    maxOutputTokens: 512,
    toolBudget: 0,
    publishDeltas: false,
  };

  test("reads the prompt and the output schema relative to the swarm file", async () => {
    const settings = await loadAgentLlm(
      { ...llm, instructions: "prompt.md", output: "finding.json", temperature: 0.2 },
      { baseDir: dir },
    );
    assert.equal(settings.system, "You are a careful researcher.");
    assert.deepEqual(settings.output?.["required"], ["claim"]);
    assert.equal(settings.maxSteps, 4);
    assert.equal(settings.temperature, 0.2);
  });

  test("a missing prompt file is a ConfigError naming the field and the path", async () => {
    await assert.rejects(
      loadAgentLlm(
        { ...llm, instructions: "prompts/missing.md" },
        { baseDir: dir, path: "agents.3.llm" },
      ),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.details[0]?.path === "agents.3.llm.instructions" &&
        error.message.includes(join(dir, "prompts/missing.md")) &&
        /no such file/.test(error.message),
    );
  });

  test("an output schema that is not JSON, or missing, is a ConfigError", async () => {
    await assert.rejects(
      loadAgentLlm({ ...llm, output: "broken.json" }, { baseDir: dir }),
      (error: unknown) => error instanceof ConfigError && /is not JSON/.test(error.message),
    );
    await assert.rejects(
      loadAgentLlm({ ...llm, output: "nowhere.json" }, { baseDir: dir }),
      (error: unknown) => error instanceof ConfigError && error.details[0]?.path === "llm.output",
    );
  });
});
