// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about literal ${VAR} references.
/**
 * A model id that is empty once substituted (`model: "${CONCLAVE_MODEL}"`
 * with CONCLAVE_MODEL set to "", or `"${LOCAL_MODEL:-}"` left unset) used
 * to start: every call then went out with `"model": ""`, the provider
 * refused it, and each task was dead-lettered with a `ModelRequestError`.
 * It is now refused at start, like an empty key or base URL, naming the
 * variable to set.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { createPriceTable } from "../../src/ledger/prices.js";
import { ModelNotConfiguredError, resolveModels } from "../../src/llm/index.js";

const config = parseSwarmConfig(
  `swarm: demo
roles:
  r: { tasks: [t] }
agents:
  - { id: a, role: r, llm: { model: fast } }
models:
  fast: { provider: openai-compatible, baseURL: "http://127.0.0.1:1/v1", model: "\${CONCLAVE_MODEL}" }
  local: { provider: openai-compatible, baseURL: "http://127.0.0.1:1/v1", model: "\${LOCAL_MODEL:-}" }
prices:
  models:
    fast: { input: 0, output: 0 }
    local: { input: 0, output: 0 }
`,
  { env: {} },
);
const prices = createPriceTable(config.prices);

test("a model id set to an empty string is refused at start, naming its variable", () => {
  assert.throws(
    () => resolveModels(config.models, { prices, names: ["fast"], env: { CONCLAVE_MODEL: "" } }),
    (error: unknown) => {
      assert.ok(error instanceof ModelNotConfiguredError, String(error));
      assert.deepEqual(error.variables, ["CONCLAVE_MODEL"]);
      assert.deepEqual(error.models, ["fast"]);
      return true;
    },
  );
});

test("a model id whose default is empty and whose variable is unset is refused too", () => {
  assert.throws(
    () => resolveModels(config.models, { prices, names: ["local"], env: {} }),
    (error: unknown) =>
      error instanceof ModelNotConfiguredError &&
      error.variables.join() === "LOCAL_MODEL" &&
      error.models.join() === "local",
  );
});

test("a model id that is set still resolves", () => {
  const models = resolveModels(config.models, {
    prices,
    env: { CONCLAVE_MODEL: "llama3.2", LOCAL_MODEL: "qwen3" },
  });
  assert.equal(models["fast"]?.modelId, "llama3.2");
  assert.equal(models["local"]?.modelId, "qwen3");
});
