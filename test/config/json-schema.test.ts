import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { swarmJsonSchema } from "../../src/config/index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const COMMITTED = fileURLToPath(new URL("../../schema/swarm.schema.json", import.meta.url));

test("the committed schema/swarm.schema.json matches the generator", () => {
  const committed: unknown = JSON.parse(readFileSync(COMMITTED, "utf8"));
  assert.deepEqual(committed, swarmJsonSchema(), "run: npm run schema");
});

test("gen-schema --check agrees", () => {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "scripts/gen-schema.ts", "--check"],
    {
      cwd: ROOT,
      encoding: "utf8",
    },
  );
  assert.equal(result.status, 0, result.stderr);
});

test("the JSON Schema describes the input form for editors", () => {
  const schema = swarmJsonSchema();
  assert.equal(schema["title"], "conclave swarm file");
  assert.equal(schema["additionalProperties"], false);
  assert.deepEqual(schema["required"], ["swarm", "roles", "agents"]);
  const properties = schema["properties"] as Record<string, Record<string, unknown>>;
  assert.equal(properties["transport"]?.["default"], "memory");
  assert.equal(typeof properties["agents"]?.["description"], "string");
});
