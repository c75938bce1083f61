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
    ...rest,
  };
}
