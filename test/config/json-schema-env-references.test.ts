// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is written literally.
// The loader takes `${VAR}` anywhere a value is written (`concurrency:
// ${WORKERS:-4}` becomes the number 4, `signing: ${SIGNING:-required}` the
// enum value), but the JSON Schema editors use said "expected integer" /
// "value is not accepted" for each of them: a valid file shown as broken.
// Numbers, booleans, enums and patterned strings also accept a ${VAR} text.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { swarmJsonSchema } from "../../src/config/json-schema.js";

type Node = Record<string, unknown>;

function accepts(node: Node | undefined, text: string): boolean {
  assert.ok(node, "the field is in the schema");
  const branches = (node["anyOf"] as Node[] | undefined) ?? [node];
  return branches.some(
    (branch) =>
      branch["type"] === "string" &&
      branch["enum"] === undefined &&
      (typeof branch["pattern"] !== "string" || new RegExp(branch["pattern"], "u").test(text)),
  );
}

const properties = swarmJsonSchema()["properties"] as Record<string, Node>;
const defaults = (properties["defaults"]?.["properties"] ?? {}) as Record<string, Node>;

describe("the JSON Schema and ${VAR} values", () => {
  it("an integer field accepts ${VAR:-4} and still not other text", () => {
    assert.ok(accepts(defaults["concurrency"], "${WORKERS:-4}"));
    assert.ok(!accepts(defaults["concurrency"], "four"));
  });

  it("an enum field accepts ${VAR:-required}", () => {
    assert.ok(accepts(properties["signing"], "${SIGNING:-required}"));
    assert.ok(!accepts(properties["signing"], "sometimes"));
  });

  it("a patterned string accepts a value built from ${VAR}", () => {
    assert.ok(accepts(properties["swarm"], "${SWARM_NAME}"));
  });

  it("keeps each field's description and default where editors show them", () => {
    assert.equal(defaults["concurrency"]?.["default"], 4);
    assert.equal(typeof defaults["concurrency"]?.["description"], "string");
    assert.equal(properties["transport"]?.["default"], "memory");
  });
});
