/**
 * Both halves together: one swarm's role is served by another swarm behind
 * its A2A gateway. The calling swarm's agent sends the task with its token;
 * the serving swarm records the caller, runs the task, and its result comes
 * back as the calling task's result, its price charged to the calling agent.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { openSwarm } from "../../src/runtime/from-config.js";

const work = mkdtempSync(join(tmpdir(), "conclave-a2a-swarms-"));
after(() => rmSync(work, { recursive: true, force: true }));
const TOKEN = "studio-token-0123456789";

test("a swarm's role served by another swarm's A2A gateway", async () => {
  const agency = parseSwarmConfig(
    `swarm: agency
dataDir: ./agency
roles: { front: {}, poet: { tasks: [rhyme] } }
agents: [{ id: gate, role: front, budget: { initial: 100 } }, { id: poet-1, role: poet }]
gateway:
  as: gate
  port: 0
  tokens: { studio: ${TOKEN} }
  pricePerTask: 3
  expose: [{ role: poet, task: rhyme }]
`,
    { baseDir: work },
  );
  const seen: { caller: unknown; via: unknown; body: unknown }[] = [];
  const serving = await openSwarm(agency, {
    module: {
      setup(agent) {
        agent.handle<{ word: string }>("rhyme", (ctx) => {
          seen.push({
            caller: ctx.task.headers?.["conclave-caller"],
            via: ctx.task.headers?.["conclave-via"],
            body: ctx.body,
          });
          return { rhyme: `${ctx.body.word}, absurd` };
        });
      },
    },
  });
  await serving.start();
  const gateway = await startA2AGateway(serving, agency);
  const studio = parseSwarmConfig(
    `swarm: studio
dataDir: ./studio
roles:
  lead: {}
  verse: { tasks: [rhyme], remote: { a2a: "${gateway.cardUrl}", token: "\${AGENCY_TOKEN}" } }
agents: [{ id: lead, role: lead }, { id: verse-1, role: verse, budget: { initial: 50 } }]
`,
    { baseDir: work, env: { AGENCY_TOKEN: TOKEN } },
  );
  const calling = await openSwarm(studio, { module: { setup() {} } });
  await calling.start();
  try {
    const result = await calling.submitAndWait(
      "verse",
      "rhyme",
      { word: "bird" },
      { as: "lead", timeoutMs: 10_000 },
    );
    assert.deepEqual(result, { rhyme: "bird, absurd" });
    assert.deepEqual(seen, [{ caller: "studio", via: "a2a", body: { word: "bird" } }]);
    // The agency's price is reported as the task's cost and charged to the studio's agent.
    assert.equal(await calling.budgets.balance("verse-1"), 47);
  } finally {
    await calling.close();
    await gateway.close();
    await serving.close();
  }
});
