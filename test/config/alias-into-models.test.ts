// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is written literally.
// `models:` is left as written when the file loads (its `${VAR}` references
// are resolved when a node starts a model), and an alias shares its anchor's
// node. So an alias elsewhere to a value anchored under models kept the
// reference's text: a gateway token read "${IDE_TOKEN}", a token anyone who
// reads the swarm file can present, while the variable's secret was never
// used. Such an alias is refused, saying to write the reference in place.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { issueAt, issuesOf } from "./helpers.js";

const FILE = `swarm: demo
models:
  m: { provider: openai, model: gpt, apiKey: &key "\${IDE_TOKEN_FOR_GATEWAY}" }
roles:
  worker:
    tasks: [echo]
agents:
  - { id: w-1, role: worker }
gateway:
  as: w-1
  tokens: { ide: *key }
  expose: [{ role: worker, task: echo }]
`;

describe("an alias to a value anchored under models", () => {
  it("is refused where it is used, naming the reference to write instead", () => {
    const issue = issueAt(
      issuesOf(FILE, { IDE_TOKEN_FOR_GATEWAY: "the-real-secret-0123456789" }),
      "gateway.tokens.ide",
    );
    assert.equal(issue.line, 11);
    assert.match(issue.message, /models/);
    assert.match(issue.message, /\$\{IDE_TOKEN_FOR_GATEWAY\}/);
    assert.doesNotMatch(issue.message, /the-real-secret/);
  });

  it("an alias within models, and anchors shared elsewhere, still load", () => {
    const config = parseSwarmConfig(
      `swarm: demo
models:
  a: &m { provider: openai, model: gpt, apiKey: "\${KEY}" }
  b: *m
roles:
  worker: &r
    tasks: [echo]
  other: *r
agents:
  - { id: w-1, role: worker }
`,
      { env: {} },
    );
    assert.equal(config.models["b"]?.apiKey, "${KEY}");
    assert.deepEqual(config.roles["other"]?.tasks, ["echo"]);
  });
});
