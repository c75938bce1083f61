import { z } from "zod";
import { swarmConfigSchema } from "./schema.js";

/**
 * The JSON Schema (draft 2020-12) of a swarm file as written, i.e. the
 * schema's input side with defaults shown, for editor completion and
 * validation. `scripts/gen-schema.ts` writes it to `schema/swarm.schema.json`.
 *
 * @example
 * ```yaml
 * # yaml-language-server: $schema=../../schema/swarm.schema.json
 * swarm: review-swarm
 * ```
 */
export function swarmJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(swarmConfigSchema, {
    io: "input",
    target: "draft-2020-12",
  });
  return {
    $schema,
    title: "conclave swarm file",
    description:
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is documented literally.
      "A swarm of agents coordinating over an event bus: its transport, store, roles and agents. String values may use ${VAR} and ${VAR:-default} from the environment.",
    ...(allowEnvReferences(rest) as Record<string, unknown>),
  };
}

/** A text holding a `${NAME}` or `${NAME:-default}` reference, which the loader substitutes. */
const ENV_REFERENCE = Object.freeze({
  type: "string",
  pattern: "\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}",
});

/** Values that are data, not schemas: a default, an enum's values, the keys of a mapping. */
const LEFT_AS_IS = new Set(["default", "examples", "enum", "const", "propertyNames"]);

/** Keys whose value maps names to schemas (the map itself is no schema). */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions"]);

/** What editors show of a field: kept on the field, outside its alternatives. */
const ANNOTATIONS = new Set(["description", "default", "title", "examples", "deprecated"]);

// The loader substitutes `${VAR}` before it checks a value, and an unquoted
// one becomes a number or true/false where written in place; so wherever a
// plain string would be refused (a number, a boolean, an enum, a pattern),
// a `${VAR}` text is also accepted. Mapping keys are never substituted.
function allowEnvReferences(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(allowEnvReferences);
  if (typeof node !== "object" || node === null) return node;
  const entries = Object.entries(node).map(([key, value]): [string, unknown] => {
    if (LEFT_AS_IS.has(key)) return [key, value];
    if (SCHEMA_MAPS.has(key) && typeof value === "object" && value !== null) {
      const fields = Object.entries(value).map(([name, field]) => [
        name,
        allowEnvReferences(field),
      ]);
      return [key, Object.fromEntries(fields)];
    }
    return [key, allowEnvReferences(value)];
  });
  const schema = Object.fromEntries(entries);
  const type = schema["type"];
  const refusesReference =
    type === "integer" ||
    type === "number" ||
    type === "boolean" ||
    "enum" in schema ||
    "const" in schema ||
    (type === "string" && ("pattern" in schema || "format" in schema));
  if (!refusesReference) return schema;
  const annotations = Object.fromEntries(entries.filter(([key]) => ANNOTATIONS.has(key)));
  const constraint = Object.fromEntries(entries.filter(([key]) => !ANNOTATIONS.has(key)));
  return { ...annotations, anyOf: [constraint, ENV_REFERENCE] };
}
