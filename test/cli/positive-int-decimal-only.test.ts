/**
 * A count option (`--tasks`, `--processes`, `--timeout`, `--limit`,
 * `--seconds`, `--interval`) takes decimal digits only, as a port option
 * does: `Number()` read `0x10` as 16, `1e3` as 1000, `0b11` as 3, and took
 * `" 5 "`, `"+5"` and `"5.0"` as 5; each is a usage error (exit 2) naming
 * the option and saying a whole number in decimal digits is expected.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { positiveDecimal, positiveInt } from "../../src/cli/cli-options.js";
import { run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-positive-int-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("positiveInt() takes decimal digits only", () => {
  for (const bad of [
    "",
    " ",
    "0",
    "0x10",
    "0b11",
    "0o7",
    "1e3",
    " 5",
    "5 ",
    "+5",
    "-5",
    "5.0",
    "5.",
    ".5e1",
    "1_000",
    "Infinity",
    "9007199254740992",
    "99999999999999999999",
  ]) {
    assert.throws(
      () => positiveInt(bad),
      /expected a whole number from 1 to \d+ in decimal digits/,
      JSON.stringify(bad),
    );
  }
  assert.equal(positiveInt("1"), 1);
  assert.equal(positiveInt("007"), 7);
  assert.equal(positiveInt("200"), 200);
  assert.equal(positiveInt(String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
});

for (const args of [
  ["demo", "--tasks", "1e3"],
  ["demo", "--processes", "0x2", "--transport", "nats://127.0.0.1:4222"],
]) {
  test(`${args.join(" ")} exits 2 naming the option`, async () => {
    const r = await run(args, work);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`'${args[1]} <n>' argument '${args[2]}' is invalid`));
    assert.match(r.stderr, /expected a whole number from 1 to \d+ in decimal digits/);
  });
}

test("positiveDecimal() (admit --weight) takes decimal notation only", () => {
  for (const bad of [
    "",
    " ",
    "0",
    "0.0",
    "0x10",
    "1e3",
    " 2",
    "2 ",
    "+2",
    "-1",
    ".5",
    "5.",
    "Infinity",
  ]) {
    assert.throws(
      () => positiveDecimal(bad),
      /expected a number > 0 in decimal notation/,
      JSON.stringify(bad),
    );
  }
  assert.equal(positiveDecimal("2"), 2);
  assert.equal(positiveDecimal("0.5"), 0.5);
});

test("admit --weight 0x10 exits 2 naming the option", async () => {
  const r = await run(
    [
      "admit",
      "w-1",
      "--swarm",
      "swarm.yaml",
      "--role",
      "worker",
      "--key",
      "k",
      "--operator-key",
      "op.key",
      "--weight",
      "0x10",
    ],
    work,
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /'--weight <n>' argument '0x10' is invalid/);
});
