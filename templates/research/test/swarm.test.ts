/**
 * What can be tested without a model: the swarm file (with a model endpoint
 * named), the workload, and the editor's policy.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  compilePolicy,
  evaluatePolicy,
  loadSwarmConfig,
  type Proposal,
  parsePolicyYaml,
} from "conclave";
import { questionsOf } from "../agents.ts";

test("swarm.yaml is valid and names its questions", async () => {
  process.env["OPENAI_BASE_URL"] ??= "http://127.0.0.1:9/v1";
  const config = await loadSwarmConfig(fileURLToPath(new URL("../swarm.yaml", import.meta.url)));
  assert.ok(config.agents.some((a) => a.role === "researcher" && a.llm !== undefined));
  assert.ok(questionsOf(config.workload).length > 0);
});

test("the editor publishes a short answer and refuses an empty one", async () => {
  const policy = compilePolicy(
    parsePolicyYaml(await readFile(new URL("../policies/editor.yaml", import.meta.url), "utf8")),
  );
  const proposal = (answer: string): Proposal => ({
    id: "01J00000000000000000000000",
    action: "answer.publish",
    data: { question: "q", answer },
    proposer: "researcher-1",
    ts: 0,
    deadline: 1_000,
    protocol: "quorum",
  });
  assert.equal(evaluatePolicy(policy, proposal("Rayleigh scattering.")).choice, "approve");
  const empty = evaluatePolicy(policy, proposal(""));
  assert.equal(empty.choice, "reject");
  assert.match(empty.reasons.join(" "), /empty answer/);
});
