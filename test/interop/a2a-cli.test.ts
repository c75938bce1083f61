/**
 * `conclave gateway a2a` as a user runs it: a process serving a swarm file
 * over A2A on a free loopback port, answering the SDK client, and stopping
 * cleanly on SIGTERM; a swarm file without a gateway section is refused.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { TaskState } from "@a2a-js/sdk";
import { finish, run, start } from "../cli/run-cli.js";
import { a2aClient, ask, dataPart, partsValue } from "./a2a-fixtures.js";

const TOKEN = "cli-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-a2a-cli-"));
after(() => rmSync(work, { recursive: true, force: true }));

writeFileSync(
  join(work, "agents.mjs"),
  `export function setup(agent) {
  if (agent.role === "writer") {
    agent.handle("write", (ctx) => ({ line: "cli " + ctx.body.topic, caller: ctx.task.headers["conclave-caller"] }));
  }
}
`,
);
const swarm = (gateway: string) => `swarm: cli-gw
module: ./agents.mjs
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front }
  - { id: w-1, role: writer }
${gateway}`;
writeFileSync(
  join(work, "swarm.yaml"),
  swarm(`gateway:
  as: gate
  tokens: { ci: "\${CI_TOKEN}" }
  expose: [{ role: writer, task: write }]
`),
);
writeFileSync(join(work, "plain.yaml"), swarm(""));

test("conclave gateway a2a serves the swarm on a free port until SIGTERM", async () => {
  const child = start(["gateway", "a2a", "--swarm", "swarm.yaml", "--port", "0", "--json"], work, {
    CI_TOKEN: TOKEN,
  });
  const done = finish(child);
  try {
    const [line] = (await Promise.race([
      once(child.stdout as NodeJS.ReadableStream, "data"),
      done.then((r) => assert.fail(`the gateway exited (${r.code}): ${r.stderr}`)),
    ])) as [Buffer];
    const ready = JSON.parse(line.toString().split("\n")[0] ?? "") as {
      url: string;
      card: string;
      offered: string[];
    };
    assert.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(ready.offered, ["writer.write"]);
    const client = await a2aClient(ready.card, TOKEN);
    const task = await client.sendMessage(ask(undefined, [dataPart({ topic: "cli" })]));
    assert.ok("status" in task);
    assert.equal(task.status?.state, TaskState.TASK_STATE_COMPLETED);
    assert.deepEqual(partsValue(task.artifacts[0]?.parts), { line: "cli cli", caller: "ci" });
  } finally {
    child.kill("SIGTERM");
  }
  const ended = await done;
  assert.equal(ended.code, 0, ended.stderr);
});

test("a swarm file without a gateway section is refused with what to add", async () => {
  const ended = await run(["gateway", "a2a", "--swarm", "plain.yaml"], work);
  assert.equal(ended.code, 2);
  assert.match(ended.stderr, /has no gateway: section; add one/);
});
