/**
 * `conclave top` watching a swarm outlives a store that fails to answer one
 * read (a Postgres restart, a lock timeout): it says so on stderr and
 * redraws at the next interval, as the dashboard's live overview does. One
 * failed read ended the command, which is meant to run for hours on an
 * operator's screen. `--once` still fails with the error: it has nothing
 * else to show.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { redrawTop, type TopScreen } from "../../src/cli/top.js";
import type { AgentRow } from "../../src/dashboard/api.js";

const overview = {
  swarm: "hiccup",
  transport: "nats",
  agents: { declared: 1, alive: 1 },
  tasks: { completed: 7, deadLettered: 0 },
  decisions: 0,
  auctions: { held: 0, awarded: 0, unsold: 0, rejectedBids: 0 },
  llm: { calls: 0, credits: 0 },
  at: 0,
};
const agents: AgentRow[] = [
  { id: "w-1", role: "worker", liveness: "alive", status: "active", weight: 1 },
];

/** A screen whose store fails the reads numbered in `failing` (from 1), and stops after `draws` snapshots. */
function screen(failing: readonly number[], draws: number) {
  const written: string[] = [];
  const warned: string[] = [];
  let reads = 0;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const s: TopScreen = {
    read: async () => {
      reads++;
      if (failing.includes(reads)) throw new Error("connection terminated unexpectedly");
      return { overview, agents };
    },
    write: (text) => {
      written.push(text);
      if (written.length >= draws) stop();
    },
    warn: (text) => warned.push(text),
    stopped,
  };
  return { s, written, warned, reads: () => reads };
}

const options = { intervalSeconds: 0.005, once: false, json: false, color: false, live: false };

test("a failed read is reported and the next interval redraws", async () => {
  const { s, written, warned } = screen([2], 2);
  await redrawTop(s, options);
  assert.equal(written.length, 2);
  assert.match(written[1] ?? "", /tasks 7 completed/);
  assert.equal(warned.length, 1);
  assert.match(warned[0] ?? "", /connection terminated unexpectedly/);
});

test("with --once a failed read is the command's error", async () => {
  const { s } = screen([1], 1);
  await assert.rejects(redrawTop(s, { ...options, once: true }), /connection terminated/);
});
