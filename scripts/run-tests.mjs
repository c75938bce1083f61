#!/usr/bin/env node
// Runs every *.test.ts under test/ with node's built-in runner through tsx.
// Node 20's runner does not expand globs or pick up .ts files on its own, so
// the list is built here. Extra arguments are passed through (e.g. a file).
//
// Each file gets at most FILE_TIMEOUT_MS (node's --test-timeout bounds every
// file the runner spawns): a file that hangs on a broker that stopped
// answering is cancelled and reported, and the run goes on, instead of the
// whole suite waiting until CI's own time limit. The longest file takes about
// a minute; override with CONCLAVE_TEST_TIMEOUT_MS.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith("-"));
const flags = args.filter((a) => a.startsWith("-"));
const targets = files.length > 0 ? files : collect("test");
const FILE_TIMEOUT_MS = Number(process.env.CONCLAVE_TEST_TIMEOUT_MS ?? 600_000);
const result = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    "--test-concurrency=2",
    `--test-timeout=${FILE_TIMEOUT_MS}`,
    ...flags,
    ...targets,
  ],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
