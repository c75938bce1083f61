/**
 * The dashboard's spend per model is keyed by the model each `llm` fee's
 * memo names, read from the store. It was summed into a plain object, so a
 * fee naming the model `__proto__` (a memo written by a Byzantine node, or
 * by hand) summed into `Object.prototype` instead: every object of the
 * process — the swarm's own, when it is `up --dashboard` — grew `calls`,
 * `credits` and `tokens`, and that model's spend vanished from the page.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import type { SwarmConfig } from "../../src/config/schema.js";
import { DashboardApi } from "../../src/dashboard/api.js";
import { operations } from "../../src/ledger/operations.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const work = mkdtempSync(join(tmpdir(), "conclave-dashboard-models-"));
let swarm: Swarm;
let config: SwarmConfig;

before(async () => {
  config = parseSwarmConfig(
    `swarm: models
roles: { worker: { tasks: [t] } }
agents: [{ id: w-1, role: worker }]
`,
    { baseDir: work },
  );
  swarm = await openSwarm(config, { module: { setup() {} } });
  await swarm.start();
  await swarm.fund("w-1", 1000, { by: "test" });
  let n = 0;
  for (const model of ["__proto__", "constructor", "gpt-4o-mini"]) {
    const memo = { kind: "llm", model, inputTokens: 10, outputTokens: 5 };
    await swarm.store.applyLedgerOperation(
      operations.fee(`fee-${n++}`, "w-1", 7, Date.now(), memo),
    );
  }
});

after(async () => {
  await swarm?.close();
  rmSync(work, { recursive: true, force: true });
});

test("a model named like an Object.prototype member is summed as itself", async () => {
  const ledger = await new DashboardApi(swarm, config).ledger();
  const polluted = ({} as Record<string, unknown>)["calls"];
  // Clean up before asserting, so a failure here leaves the rest of the process sound.
  for (const key of ["calls", "credits", "tokens"]) {
    delete (Object.prototype as Record<string, unknown>)[key];
  }
  assert.equal(polluted, undefined, "Object.prototype.calls was set");
  const models = JSON.parse(JSON.stringify(ledger.models)) as Record<string, unknown>;
  // Written as JSON: in an object literal, `__proto__:` sets the prototype, not a key.
  const line = `{"calls":1,"credits":7,"tokens":15}`;
  assert.deepEqual(
    models,
    JSON.parse(`{"__proto__":${line},"constructor":${line},"gpt-4o-mini":${line}}`),
  );
  const last = JSON.parse(JSON.stringify(ledger.series.at(-1)?.byModel)) as unknown;
  assert.deepEqual(last, JSON.parse(`{"__proto__":7,"constructor":7,"gpt-4o-mini":7}`));
});
