/**
 * A port option given an empty value (`--port "$PORT"` with PORT unset) or
 * anything but decimal digits is a usage error (exit 2) naming the option:
 * `Number("")` is 0, so an empty value used to serve on a random free port,
 * and `0x50` or `1e3` were read as 80 and 1000.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { port } from "../../src/cli/cli-options.js";
import { agents, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-port-empty-"));
before(() =>
  writeFileSync(
    join(work, "swarm.yaml"),
    `swarm: ports
module: ${agents}
roles: { worker: { tasks: [t] } }
agents: [{ id: w-1, role: worker }]
`,
  ),
);
after(() => rmSync(work, { recursive: true, force: true }));

test("port() takes decimal digits only", () => {
  for (const bad of ["", " ", "0x50", "1e3", " 80", "80 ", "+80", "-0", "8.0"]) {
    assert.throws(() => port(bad), /expected a port number/, JSON.stringify(bad));
  }
  assert.equal(port("0"), 0);
  assert.equal(port("8471"), 8471);
  assert.equal(port("65535"), 65535);
});

for (const args of [
  ["up", "swarm.yaml", "--timeout", "1", "--dashboard", ""],
  ["up", "swarm.yaml", "--timeout", "1", "--metrics", ""],
]) {
  test(`up ${args[4]} "" exits 2 naming the option`, async () => {
    const r = await run(args, work);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`'${args[4]} .*' argument '' is invalid`));
    assert.doesNotMatch(r.stderr, /dashboard: http|metrics: http/);
  });
}
