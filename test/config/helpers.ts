import assert from "node:assert/strict";
import { parseSwarmConfig } from "../../src/config/index.js";
import { ConfigError, type ConfigIssue } from "../../src/errors/index.js";

/** A valid swarm file to start from; tests append or replace lines. */
export const MINIMAL = `swarm: demo
roles:
  worker:
    tasks: [echo]
agents:
  - id: w-1
    role: worker
`;

/** Parses `text` expecting a ConfigError, and returns its issues. */
export function issuesOf(text: string, env: Record<string, string> = {}): readonly ConfigIssue[] {
  try {
    parseSwarmConfig(text, { source: "swarm.yaml", env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.details;
  }
  assert.fail("expected the swarm file to be rejected");
}

/** The one issue at `path`, failing if there is none or several. */
export function issueAt(issues: readonly ConfigIssue[], path: string): ConfigIssue {
  const found = issues.filter((issue) => issue.path === path);
  assert.equal(found.length, 1, `one issue at ${path}, got ${JSON.stringify(issues, null, 2)}`);
  return found[0]!;
}
