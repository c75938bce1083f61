// A pool's `max` far out of range (a typo such as 1e300 or 100000000) is a
// config error naming pools.<role>.max, not a RangeError from building
// 2·max worker ids, nor minutes spent building them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { issuesOf, MINIMAL } from "./helpers.js";

describe("pools.<role>.max out of range", () => {
  for (const max of ["1e300", "100000000"]) {
    it(`max: ${max} is reported at pools.worker.max`, () => {
      const started = performance.now();
      const issues = issuesOf(`${MINIMAL}pools:\n  worker: { max: ${max} }\n`);
      assert.ok(
        issues.some(
          (issue) =>
            issue.path === "pools.worker.max" &&
            /expected an integer from 1 to 10000/.test(issue.message),
        ),
        JSON.stringify(issues),
      );
      assert.ok(performance.now() - started < 2_000, "refused without building the worker ids");
    });
  }
});
