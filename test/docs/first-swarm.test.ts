/**
 * docs/FIRST-SWARM.md stays true: its blocks marked with a file name
 * (```yaml file=swarm.yaml, ```ts file=agents.ts; blocks of one file are
 * joined in order) are written into an empty folder, `conclave up` runs
 * them, and `conclave results` reads back what the guide says it does.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { root, run } from "../cli/run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-first-swarm-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** The guide's files: every fenced block with `file=NAME`, joined per name in order. */
function guideFiles(markdown: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const match of markdown.matchAll(/^```\w+ file=(\S+)\n([\s\S]*?)^```$/gm)) {
    const [, name = "", body = ""] = match;
    files.set(name, `${files.get(name) ?? ""}${files.has(name) ? "\n" : ""}${body}`);
  }
  return files;
}

interface ResultLine {
  root: string;
  role?: string;
  task?: string;
  status: string;
  by?: string;
  result?: { question: string; answer: string; published: boolean };
}

test("the guide's swarm runs, and its results are what the guide shows", async () => {
  const guide = readFileSync(join(root, "docs/FIRST-SWARM.md"), "utf8");
  const files = guideFiles(guide);
  assert.deepEqual([...files.keys()].sort(), ["agents.ts", "swarm.yaml"]);
  for (const [name, text] of files) writeFileSync(join(work, name), text);

  const up = await run(["up", "swarm.yaml", "--timeout", "120"], work);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr.slice(-3000)}`);
  assert.match(up.stdout, /swarm research-team — nothing lost/);
  assert.match(up.stdout, /tasks submitted\s+2$/m);
  assert.match(up.stdout, /completed\s+2$/m);
  assert.match(up.stdout, /consensus\s+2 proposals: 2 approved, 0 rejected/);

  const results = await run(["results", "--swarm", "swarm.yaml", "--json"], work);
  assert.equal(results.code, 0, results.stderr);
  const lines = results.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as ResultLine);
  const sample = JSON.parse(/```json\n(.*)\n```/.exec(guide)?.[1] ?? "{}") as ResultLine;
  assert.equal(lines.length, 2);
  for (const line of lines) {
    assert.equal(line.status, sample.status);
    assert.equal(line.role, sample.role);
    assert.equal(line.task, sample.task);
    assert.equal(line.by, sample.by);
    assert.equal(line.result?.published, true);
    // Three parts, in the planner's order, each answered by one of the two researchers.
    const shown = sample.result?.answer.split("\n").map((part) => part.split(":")[0]);
    const got = line.result?.answer.split("\n") ?? [];
    assert.deepEqual(
      got.map((part) => part.split(":")[0]),
      shown,
    );
    for (const part of got) assert.match(part, /: an answer by researcher-[12]$/);
  }
  assert.deepEqual(lines.map((line) => line.result?.question).sort(), [
    "What is an idempotency key for?",
    "Why is the sky blue?",
  ]);

  // "Run it again and nothing happens twice."
  const again = await run(["up", "swarm.yaml", "--timeout", "120"], work);
  assert.equal(again.code, 0, again.stderr.slice(-3000));
  assert.match(again.stdout, /tasks submitted\s+2$/m);
  assert.match(again.stdout, /duplicate effects\s+0$/m);
});
