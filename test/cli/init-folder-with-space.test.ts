/**
 * A project made by `conclave init` in a folder whose path has a space (a
 * home folder such as "My Projects"): its `npm test` must find its own
 * swarm.yaml. `new URL(…).pathname` gives "My%20Projects", which no file is
 * called; `fileURLToPath` gives the real path.
 *
 * `conclave` is stood in for by a package in the project's node_modules that
 * re-exports this repository's sources, so no build is needed.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { finish, root, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave init space-"));
after(() => rmSync(work, { recursive: true, force: true }));

function linkConclave(app: string): void {
  const pkg = join(app, "node_modules", "conclave");
  mkdirSync(pkg, { recursive: true });
  symlinkSync(join(root, "node_modules", "tsx"), join(app, "node_modules", "tsx"), "dir");
  writeFileSync(
    join(pkg, "package.json"),
    JSON.stringify({
      name: "conclave",
      type: "module",
      exports: { ".": "./index.ts", "./testkit": "./testkit.ts" },
    }),
  );
  writeFileSync(
    join(pkg, "index.ts"),
    `export * from ${JSON.stringify(join(root, "src", "index.ts"))};\n`,
  );
  writeFileSync(
    join(pkg, "testkit.ts"),
    `export * from ${JSON.stringify(join(root, "src", "testkit", "index.ts"))};\n`,
  );
}

describe("conclave init in a folder with a space in its path", () => {
  for (const template of ["blank", "review", "research"]) {
    test(`the ${template} template's test finds its swarm file`, async () => {
      const r = await run(["init", `my ${template}`, "--template", template], work);
      assert.equal(r.code, 0, r.stderr);
      const app = join(work, `my ${template}`);
      linkConclave(app);
      const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;
      const tested = await finish(
        spawn(process.execPath, ["--import", "tsx", "--test", "test/swarm.test.ts"], {
          cwd: app,
          env,
          stdio: ["ignore", "pipe", "pipe"],
        }),
      );
      assert.doesNotMatch(tested.stdout + tested.stderr, /%20/);
      assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    });
  }

  test("the next steps quote a folder with a space", async () => {
    const r = await run(["init", "two words", "--template", "blank"], work);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}cd 'two words'$/m);
  });
});
