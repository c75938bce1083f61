/**
 * `conclave top` prints what agents say about themselves (their cards' role,
 * node and team, from heartbeats on the bus: with `admission: open` any
 * agent's, and a card's node always). Those strings went to the terminal
 * raw, so a card holding escape sequences drove the operator's terminal:
 * cleared the table and drew another, set the window title, wrote the
 * clipboard (OSC 52). Control characters are shown, never sent.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { renderTop } from "../../src/cli/top.js";
import type { AgentRow } from "../../src/dashboard/api.js";

const overview = {
  swarm: "top-escapes",
  transport: "nats",
  agents: { declared: 1, alive: 1 },
  tasks: { completed: 0, deadLettered: 0 },
  decisions: 0,
  auctions: { held: 0, awarded: 0, unsold: 0, rejectedBids: 0 },
  llm: { calls: 0, credits: 0 },
  at: 0,
};

const hostile: AgentRow = {
  id: "mallory",
  role: "worker\x1b[2J\x1b[H",
  node: "n1\x1b]52;c;cm0gLXJmIH4K\x07",
  liveness: "alive",
  status: "active",
  weight: 1,
  team: "red\x1b]0;owned\x07",
  lead: "boss\r\x9b31m",
  leads: ["blue\x1b[8m"],
};

/** Whether `c` is a control character (C0, DEL, C1): what drives a terminal. */
const isControl = (c: string) => {
  const code = c.charCodeAt(0);
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
};
const ESC = "\x1b";

test("an agent's card cannot put control characters on the terminal", () => {
  const text = renderTop(overview, [hostile], false);
  // Without colour, nothing of ours is an escape either: the output holds none.
  const controls = [...text].filter((c) => c !== "\n" && isControl(c));
  assert.deepEqual(controls, [], JSON.stringify(text));
  // What the card says is still shown, its control characters made visible.
  assert.match(text, /worker\\x1b\[2J/);
  assert.match(text, /mallory/);
});

test("with colour, the only escapes are top's own colours, and alive shows green", () => {
  const text = renderTop(overview, [hostile], true);
  // Every escape starts one of top's colours, `ESC [ <n> m`.
  for (const after of text.split(ESC).slice(1)) {
    assert.match(after, /^\[\d+m/, JSON.stringify(text));
  }
  const others = [...text].filter((c) => c !== "\n" && c !== ESC && isControl(c));
  assert.deepEqual(others, [], JSON.stringify(text));
  // The state was padded before it was matched, so "alive" and "active" showed red.
  const green = (s: string) => `${ESC}[32m${s.padEnd(9)}${ESC}[0m`;
  assert.ok(text.includes(`${green("alive")} ${green("active")}`), JSON.stringify(text));
});
