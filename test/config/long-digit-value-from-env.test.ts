// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is written literally.
// An unquoted `${VAR}` is retyped as if written in place. A value of more
// digits than a number holds exactly (a chat channel id, an account number:
// 18 digits and more) became an inexact number, so a free-form section that
// takes text refused the file, printing the variable's value in the error.
// Such a value only reads exactly as text, so it stays text.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { ConfigError } from "../../src/errors/index.js";
import { MINIMAL } from "./helpers.js";

const ID = "123456789012345678901";

describe("a value of too many digits from the environment", () => {
  it("reaches workload as the text the variable held", () => {
    const config = parseSwarmConfig(`${MINIMAL}workload:\n  channel: \${CHANNEL}\n`, {
      env: { CHANNEL: ID },
    });
    assert.equal(config.workload["channel"], ID);
  });

  it("is still refused where a number is expected, without a rounded copy of it", () => {
    const text = MINIMAL.replace("tasks: [echo]", "tasks: [echo]\n    concurrency: ${C}");
    assert.throws(
      () => parseSwarmConfig(text, { env: { C: ID } }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /roles\.worker\.concurrency/.test(error.message) &&
        !/123456789012345680000/.test(error.message),
    );
  });
});
