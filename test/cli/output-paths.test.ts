/**
 * Where a command writes is the user's choice, so a place it cannot write is
 * a usage error (exit 2) naming the place, the errno code and the option to
 * change, never an unexpected failure with a stack trace (exit 1). Before,
 * `init <a file>` (readdir ENOTDIR), `init <under a file>` (mkdir),
 * `demo --data-dir <a file>` (rm ENOTDIR), `broker-config nats|rabbitmq
 * --out <a file>` (mkdir EEXIST) and `admit --out <under a file>` (open
 * ENOTDIR) all printed a stack trace and exited 1. A regular file where a
 * folder is expected stands for every unwritable place (EACCES needs a
 * non-root user). Also: `writingTo` lets other errors through unchanged.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { writingTo } from "../../src/cli/output-path.js";
import { ConfigError } from "../../src/errors/index.js";
import { saveAgentKey } from "../../src/identity/key-file.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { reviewSwarmYaml, run } from "./run-cli.js";

describe("output paths a command cannot write", () => {
  let work: string;
  let file: string;
  let swarm: string;
  const operator = generateAgentKeyPair();
  before(async () => {
    work = mkdtempSync(join(tmpdir(), "conclave-output-paths-"));
    file = join(work, "a-file");
    writeFileSync(file, "not a folder\n");
    await saveAgentKey(join(work, "keys"), "operator", operator);
    swarm = join(work, "swarm.yaml");
    writeFileSync(
      swarm,
      reviewSwarmYaml({
        name: "outpaths",
        head: `admission: credential\noperator: { publicKey: ${encodePublicKey(operator.publicKey)} }\n`,
        workload: { tasks: 1 },
      }),
    );
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  const refused = async (args: string[], what: RegExp, option: string) => {
    const r = await run(args, work);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, what);
    assert.match(r.stderr, /: (ENOTDIR|EEXIST); pick another folder/);
    assert.ok(r.stderr.includes(`(${option}) or fix its permissions`), r.stderr);
    assert.doesNotMatch(r.stderr, /unexpected failure|\n\s+at /);
  };

  test("init into a file, or under one", async () => {
    await refused(
      ["init", file],
      /cannot write the swarm project to .*a-file:/,
      "conclave init <folder>",
    );
    await refused(
      ["init", join(file, "sub")],
      /cannot write the swarm project to .*a-file\/sub:/,
      "conclave init <folder>",
    );
  });

  test("demo --data-dir a file", async () => {
    await refused(
      ["demo", "--data-dir", file],
      /cannot write the demo's state to .*a-file:/,
      "--data-dir",
    );
  });

  test("broker-config nats|rabbitmq --out a file", async () => {
    await refused(
      ["broker-config", "nats", "--swarm", swarm, "--out", file],
      /cannot write the NATS users to .*a-file:/,
      "--out",
    );
    await refused(
      ["broker-config", "rabbitmq", "--swarm", swarm, "--out", join(file, "sub")],
      /cannot write the RabbitMQ users to .*a-file\/sub:/,
      "--out",
    );
  });

  test("admit --out under a file", async () => {
    await refused(
      [
        "admit",
        "py-1",
        "--swarm",
        swarm,
        "--role",
        "developer",
        "--key",
        encodePublicKey(generateAgentKeyPair().publicKey),
        "--operator-key",
        join(work, "keys", "operator.key"),
        "--out",
        join(file, "py-1.json"),
      ],
      /cannot write the credential to .*a-file\/py-1\.json:/,
      "--out",
    );
  });

  test("writingTo turns only file-system errors into a ConfigError", async () => {
    const place = { what: "x", path: "/nowhere", option: "--out" };
    await assert.rejects(
      writingTo(place, () => {
        throw new RangeError("not a file-system error");
      }),
      (e: Error) => e instanceof RangeError,
    );
    await assert.rejects(
      writingTo(place, () => writeFileSync(join(file, "x"), "")),
      (e: Error) =>
        e instanceof ConfigError &&
        e.message ===
          "cannot write x to /nowhere: ENOTDIR; pick another folder (--out) or fix its permissions" &&
        (e.cause as NodeJS.ErrnoException).code === "ENOTDIR",
    );
    assert.equal(await writingTo(place, async () => 42), 42);
  });
});
