// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is written literally.
// A swarm file does not expand `~` (no shell reads it): `dataDir: ~/conclave`
// would silently become a folder named "~" next to the swarm file, and the
// store, journal and keys would go there. The loader refuses it and says to
// write ${HOME}/… instead.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

describe("a path starting with ~", () => {
  it("is refused for dataDir, naming ${HOME}", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}dataDir: ~/conclave\n`), "dataDir");
    assert.match(issue.message, /\$\{HOME\}\/conclave/);
  });

  it("is refused for an agent's policy", () => {
    const text = MINIMAL.replace("role: worker", "role: worker\n    policy: ~/policy.yaml");
    const issue = issueAt(issuesOf(text), "agents.0.policy");
    assert.match(issue.message, /\$\{HOME\}/);
  });

  it("is refused for a sqlite store", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}store: sqlite:~/swarm.db\n`), "store");
    assert.match(issue.message, /sqlite:\$\{HOME\}\/swarm\.db/);
  });

  it("${HOME}/… is the way to write it", () => {
    const config = parseSwarmConfig(`${MINIMAL}dataDir: \${HOME}/conclave\n`, {
      env: { HOME: "/home/ada" },
      baseDir: "/srv/demo",
    });
    assert.equal(config.dataDir, "/home/ada/conclave");
  });

  it("a folder whose name starts with ~ but not ~/ is left alone", () => {
    const config = parseSwarmConfig(`${MINIMAL}dataDir: ~data\n`, { env: {}, baseDir: "/srv" });
    assert.equal(config.dataDir, "/srv/~data");
  });
});
