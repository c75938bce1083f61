/**
 * Store URLs with a typo: the error must not show the password, and must
 * point at the form to write. Before, a postgres URL that lost its colon
 * (`postgres//…`) or came with a space or line break around it (an
 * environment variable read with its newline) was echoed whole, password
 * included, with the advice to write it as a SQLite path.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { openStore, parseStoreUrl } from "../../src/store/open-store.js";

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a ConfigError");
}

describe("parseStoreUrl: mistyped URLs", () => {
  test("a mistyped postgres URL's password is never echoed", () => {
    for (const url of [
      "postgres//conclave:hunter2@db/swarm",
      " postgres://conclave:hunter2@db/swarm",
      "postgres://conclave:hunter2@db/swarm\n",
      "//conclave:hunter2@db/swarm",
      "postgres//conclave:hun/ter2@db/swarm",
      "postgres//conclave:hun?ter2@db/swarm",
      "sqlite://conclave:hunter2@db/swarm",
      "postgres//db/swarm?sslmode=require&password=hunter2",
    ]) {
      const error = configErrorOf(() => parseStoreUrl(url));
      assert.doesNotMatch(
        error.message,
        /hunter2|hun\/ter2|hun\?ter2|ter2@/,
        `${JSON.stringify(url)}`,
      );
    }
  });

  test("a postgres URL missing its colon or a slash is not advised to be a SQLite path", () => {
    for (const url of ["postgres//conclave@db/swarm", "postgres:/conclave@db/swarm"]) {
      const error = configErrorOf(() => parseStoreUrl(url));
      assert.doesNotMatch(error.message, /write sqlite:postgres|"postgres:" is not supported/, url);
      assert.match(error.message, /write postgres:\/\//, url);
    }
  });

  test("spaces or a line break around the URL are named, not read as part of it", () => {
    for (const url of [" postgres://conclave@db/swarm", "sqlite:./swarm.db\n"]) {
      const error = configErrorOf(() => parseStoreUrl(url));
      assert.match(error.message, /spaces or line breaks around it: remove them/, url);
    }
  });

  test("an empty or blank URL says a URL is missing, not that it has no scheme", () => {
    for (const url of ["", " ", "\n"]) {
      const error = configErrorOf(() => parseStoreUrl(url));
      assert.match(
        error.message,
        /^no store URL given .*: write sqlite:<path>/,
        JSON.stringify(url),
      );
    }
  });

  test("a scheme in capitals says to write it in lower case", () => {
    const error = configErrorOf(() => parseStoreUrl("Postgres://conclave:hunter2@db/swarm"));
    assert.match(error.message, /write the scheme in lower case: postgres:/);
    assert.doesNotMatch(error.message, /hunter2/);
  });
});

describe("openStore: sqlite:~/…", () => {
  test("is refused with the full path to write, and no folder named ~ is made", async () => {
    const work = mkdtempSync(join(tmpdir(), "conclave-tilde-"));
    const cwd = process.cwd();
    process.chdir(work);
    try {
      // A shell expands ~ only at the start of a word: --store sqlite:~/x.db arrives as written.
      await assert.rejects(openStore("sqlite:~/swarm/x.db"), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, /starts with ~, which is not expanded here/);
        assert.ok(error.message.includes(`sqlite:${homedir()}/swarm/x.db`), error.message);
        return true;
      });
      assert.equal(existsSync(join(work, "~")), false);
    } finally {
      process.chdir(cwd);
      rmSync(work, { recursive: true, force: true });
    }
  });
});
