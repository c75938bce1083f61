import { readFile } from "node:fs/promises";
import { type CompiledPolicy, compilePolicy, parsePolicyYaml } from "../../consensus/policy.js";
import { ConfigError, PolicyError } from "../../errors/index.js";

/**
 * Reads and compiles an agent's voter policy file (YAML rules in CEL, see
 * `src/consensus/policy.ts`), so a bad rule stops the swarm at start rather
 * than at its first vote.
 *
 * @throws ConfigError naming the file, the rule and the position of the
 *   first problem (with the `PolicyError` as cause).
 *
 * @example
 * ```ts
 * const policy = await loadPolicyFile("/srv/swarm/policies/auditor.yaml");
 * ```
 */
export async function loadPolicyFile(path: string): Promise<CompiledPolicy> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new ConfigError(`cannot read the voter policy ${path}; check agents[].policy`, [], {
      cause,
    });
  }
  try {
    return compilePolicy(parsePolicyYaml(text));
  } catch (error) {
    if (error instanceof PolicyError) {
      throw new ConfigError(`voter policy ${path}: ${error.message}`, [], { cause: error });
    }
    throw error;
  }
}
