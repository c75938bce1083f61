/**
 * `conclave init`: the scaffold is a project outside this repository whose
 * typed agent module imports `conclave` as an installed package would, and
 * whose own two commands work: `npm test` (its test on conclave/testkit) and
 * `npx conclave up swarm.yaml`.
 *
 * There is no registry here, so the test does what `npm install` would:
 * conclave is built once (`tsc -p tsconfig.build.json`, as its `prepare`
 * script does on install) into a package folder laid out as npm installs it
 * (package.json, bin/, dist/, templates/, its dependencies), and the
 * scaffold's node_modules links to it and to its devDependencies (tsx,
 * typescript, @types/node). Nothing points the scaffold at src/: resolving
 * `conclave` goes through the package's `exports`, as for a user.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { answer, startOpenAiServer } from "../helpers/openai-server.js";
import { finish, type Run, root, run, summaryOf } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-init-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs a command (no shell) in `cwd` to the end. */
function exec(
  command: string,
  args: string[],
  cwd: string,
  more: Readonly<Record<string, string>> = {},
): Promise<Run> {
  // Without the runner's NODE_TEST_CONTEXT, a nested `node --test` reports as a user sees it.
  const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;
  return finish(
    spawn(command, args, {
      cwd,
      env: {
        ...env,
        NO_COLOR: "1",
        npm_config_offline: "true",
        npm_config_audit: "false",
        ...more,
      },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
}

/** conclave as npm installs it: built, with its files and dependencies. */
async function installablePackage(): Promise<string> {
  const pkg = join(work, "conclave-package");
  mkdirSync(join(pkg, "bin"), { recursive: true });
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const build = await exec(
    process.execPath,
    [
      tsc,
      "-p",
      join(root, "tsconfig.build.json"),
      "--outDir",
      join(pkg, "dist"),
      "--sourceMap",
      "false",
    ],
    root,
  );
  assert.equal(build.code, 0, build.stdout + build.stderr);
  copyFileSync(join(root, "package.json"), join(pkg, "package.json"));
  // Copied, not linked: bin/conclave.js finds dist/ next to its real path.
  copyFileSync(join(root, "bin", "conclave.js"), join(pkg, "bin", "conclave.js"));
  for (const folder of ["templates", "web", "schema", "node_modules"]) {
    symlinkSync(join(root, folder), join(pkg, folder), "dir");
  }
  return pkg;
}

/** What `npm install` would leave in `app`: conclave and the scaffold's devDependencies. */
function install(app: string, pkg: string): void {
  const modules = join(app, "node_modules");
  mkdirSync(join(modules, ".bin"), { recursive: true });
  mkdirSync(join(modules, "@types"), { recursive: true });
  symlinkSync(pkg, join(modules, "conclave"), "dir");
  for (const [bin, target] of [
    ["conclave", "../conclave/bin/conclave.js"],
    ["tsc", "../typescript/bin/tsc"],
    ["tsx", "../tsx/dist/cli.mjs"],
  ] as const) {
    symlinkSync(target, join(modules, ".bin", bin));
  }
  for (const dep of ["tsx", "typescript", "@types/node"]) {
    symlinkSync(join(root, "node_modules", dep), join(modules, dep), "dir");
  }
}

describe("conclave init", () => {
  let pkg: string;
  before(async () => {
    pkg = await installablePackage();
  });

  test("the blank template: its test passes and conclave up runs it", async () => {
    const r = await run(["init", "hello-swarm", "--template", "blank"], work);
    assert.equal(r.code, 0, r.stderr);
    const app = join(work, "hello-swarm");
    assert.match(r.stdout, /npm install && npx conclave up swarm\.yaml/);
    for (const file of [
      "swarm.yaml",
      "agents.ts",
      "policies/worker.yaml",
      "test/swarm.test.ts",
      "package.json",
      "tsconfig.json",
      "README.md",
      ".gitignore",
    ]) {
      assert.ok(existsSync(join(app, file)), file);
    }
    const manifest = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as {
      name: string;
      dependencies: Record<string, string>;
    };
    const ours = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      version: string;
    };
    assert.equal(manifest.name, "hello-swarm");
    assert.equal(manifest.dependencies["conclave"], `^${ours.version}`);
    assert.match(readFileSync(join(app, "swarm.yaml"), "utf8"), /^swarm: hello-swarm$/m);
    assert.match(readFileSync(join(app, "agents.ts"), "utf8"), /from "conclave"/);

    install(app, pkg);

    const tested = await exec("npm", ["test"], app);
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /# pass 2/);

    const typed = await exec("npm", ["run", "typecheck"], app);
    assert.equal(typed.code, 0, typed.stdout + typed.stderr);

    const up = await exec("npx", ["conclave", "up", "swarm.yaml", "--json"], app);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const summary = summaryOf(up.stdout);
    assert.equal(summary.tasks.submitted, 3);
    assert.equal(summary.tasks.completed, 3);
  });

  test("the review template: its pipeline test passes and conclave up merges by vote", async () => {
    const r = await run(["init", "review-app", "--template", "review"], work);
    assert.equal(r.code, 0, r.stderr);
    const app = join(work, "review-app");
    install(app, pkg);
    const typed = await exec("npm", ["run", "typecheck"], app);
    assert.equal(typed.code, 0, typed.stdout + typed.stderr);
    const tested = await exec("npm", ["test"], app);
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /# pass 2/);
    const up = await exec("npx", ["conclave", "up", "swarm.yaml", "--json"], app);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const summary = summaryOf(up.stdout);
    assert.equal(summary.tasks.submitted, 6);
    assert.equal(summary.tasks.completed, 6);
  });

  test("the research template: its test passes without a model, and it runs on an OpenAI-compatible endpoint", async () => {
    const r = await run(["init", "research-app", "--template", "research"], work);
    assert.equal(r.code, 0, r.stderr);
    const app = join(work, "research-app");
    install(app, pkg);
    const typed = await exec("npm", ["run", "typecheck"], app);
    assert.equal(typed.code, 0, typed.stdout + typed.stderr);
    const tested = await exec("npm", ["test"], app);
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /# pass 2/);
    const model = await startOpenAiServer({
      responder: () => answer("Air scatters blue light the most (Rayleigh scattering)."),
    });
    try {
      const up = await exec("npx", ["conclave", "up", "swarm.yaml", "--json"], app, {
        OPENAI_BASE_URL: model.url,
        CONCLAVE_MODEL: "test-model",
      });
      assert.equal(up.code, 0, up.stdout + up.stderr);
      const summary = summaryOf(up.stdout);
      assert.equal(summary.tasks.submitted, 2);
      assert.equal(summary.tasks.completed, 2);
      assert.equal(model.requests.length, 2, "one model call per question");
    } finally {
      await model.close();
    }
  });

  test("a folder that is not empty is refused without --force (exit 2)", async () => {
    const app = join(work, "busy");
    mkdirSync(app);
    writeFileSync(join(app, "notes.txt"), "mine");
    const refused = await run(["init", app], work);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /is not empty.*--force/);
    assert.equal(existsSync(join(app, "swarm.yaml")), false);

    const forced = await run(["init", app, "--force"], work);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(readFileSync(join(app, "notes.txt"), "utf8"), "mine");
    assert.ok(existsSync(join(app, "swarm.yaml")));
  });

  test("an unknown template is a usage error naming the choices", async () => {
    const r = await run(["init", join(work, "x"), "--template", "nope"], work);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /blank, review, research/);
  });
});
