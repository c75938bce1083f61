// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is written literally.
// An unquoted `${VAR}` is retyped as if written in place, so `${WORKERS:-4}`
// is the number 4. A token or password that merely looks like a number
// (digits only, `0x1F`, `1e5`, leading zeros) must still reach a string field
// as the text it is, and must never be echoed in an error message.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { ConfigError } from "../../src/errors/index.js";
import { MINIMAL } from "./helpers.js";

const GATEWAY = `${MINIMAL}gateway:
  as: w-1
  tokens:
    alice: \${TOKEN}
  expose: [{ role: worker, task: echo }]
`;

describe("a numeric-looking secret from the environment", () => {
  for (const token of ["123456789012345678", "0012345678901234567", "0x1F2E3D4C5B6A7980"]) {
    it(`keeps ${token} a string where a string is expected`, () => {
      const config = parseSwarmConfig(GATEWAY, { source: "swarm.yaml", env: { TOKEN: token } });
      assert.equal(config.gateway?.tokens["alice"], token);
    });
  }

  it("keeps a remote role's numeric token as written", () => {
    const text = `swarm: demo
roles:
  worker:
    tasks: [echo]
    remote:
      a2a: https://agents.example/.well-known/agent.json
      token: \${T}
agents: [{ id: w-1, role: worker }]
`;
    const config = parseSwarmConfig(text, { source: "swarm.yaml", env: { T: "0012345" } });
    assert.equal(config.roles["worker"]?.remote?.token, "0012345");
  });

  it("does not print a refused numeric token", () => {
    try {
      parseSwarmConfig(GATEWAY, { source: "swarm.yaml", env: { TOKEN: "98765" } });
      assert.fail("a 5-character token should be refused");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /gateway\.tokens\.alice/);
      assert.doesNotMatch(error.message, /98765/);
    }
  });

  it("still makes an unquoted number a number", () => {
    const text = MINIMAL.replace("tasks: [echo]", "tasks: [echo]\n    concurrency: ${C:-4}");
    const config = parseSwarmConfig(text, { source: "swarm.yaml", env: { C: "8" } });
    assert.equal(config.roles["worker"]?.concurrency, 8);
  });

  it("still reports a wrong number as the number", () => {
    const text = MINIMAL.replace("tasks: [echo]", "tasks: [echo]\n    concurrency: ${C}");
    assert.throws(
      () => parseSwarmConfig(text, { source: "swarm.yaml", env: { C: "0" } }),
      /roles\.worker\.concurrency: expected an integer from 1 to 10000, got 0/,
    );
  });
});
