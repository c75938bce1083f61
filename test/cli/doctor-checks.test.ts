/**
 * `conclave doctor` fails what `conclave up` would refuse, and still passes
 * what it would run. Before, the transport was checked by a TCP connect only
 * (another protocol on the port, or a broker refusing the login, passed), an
 * existing SQLite store was never opened (a file that is no database
 * passed), a new SQLite path under a regular file passed, and a swarm file
 * whose `module:` does not exist passed. Output stays one check per line
 * (`--json`: one object), exit 1 when any fails.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openStore } from "../../src/store/open-store.js";
import { reviewSwarmYaml, run } from "./run-cli.js";

interface Report {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string }[];
}

describe("conclave doctor", () => {
  let work: string;
  let notNats: Server;
  let port = 0;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), "conclave-doctor-"));
    // Something else listens on the port: it answers, but not as a NATS server.
    notNats = createServer((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await new Promise<void>((done) => notNats.listen(0, "127.0.0.1", done));
    port = (notNats.address() as { port: number }).port;
  });
  after(() => {
    notNats.close();
    rmSync(work, { recursive: true, force: true });
  });

  const doctor = async (args: string[]) => {
    const r = await run(["doctor", ...args, "--json"], work);
    const report = JSON.parse(r.stdout) as Report;
    return {
      code: r.code,
      report,
      check: (name: string) => report.checks.find((c) => c.name === name),
    };
  };

  test("a store file that is no database fails; a conclave store passes", async () => {
    const junk = join(work, "junk.db");
    writeFileSync(
      junk,
      "this is not a SQLite database, just text long enough to have a header\n".repeat(20),
    );
    const bad = await doctor(["--store", `sqlite:${junk}`]);
    assert.equal(bad.code, 1, JSON.stringify(bad.report));
    assert.equal(bad.check("store")?.ok, false);
    assert.match(bad.check("store")?.detail ?? "", /junk\.db/);

    const real = join(work, "real.db");
    await (await openStore(`sqlite:${real}`)).close();
    const good = await doctor(["--store", `sqlite:${real}`]);
    assert.equal(good.code, 0, JSON.stringify(good.report));
    assert.match(good.check("store")?.detail ?? "", /opens and holds the store/);
  });

  test("a new store under a regular file fails", async () => {
    const file = join(work, "plain");
    writeFileSync(file, "x");
    const r = await doctor(["--store", `sqlite:${join(file, "sub", "x.db")}`]);
    assert.equal(r.code, 1, JSON.stringify(r.report));
    assert.equal(r.check("store")?.ok, false);
    assert.match(r.check("store")?.detail ?? "", /plain is a file, not a folder/);
  });

  test("a swarm file whose module does not exist fails", async () => {
    const swarm = join(work, "nomodule.yaml");
    writeFileSync(
      swarm,
      reviewSwarmYaml({ name: "nomodule", workload: { tasks: 1 } }).replace(
        /^module: .*$/m,
        "module: ./no-such-agents.mjs",
      ),
    );
    const r = await doctor(["--swarm", swarm]);
    assert.equal(r.code, 1, JSON.stringify(r.report));
    assert.equal(r.check("swarm file")?.ok, false);
    assert.match(
      r.check("swarm file")?.detail ?? "",
      /module .*no-such-agents\.mjs does not exist/,
    );
    assert.deepEqual(
      r.report.checks.map((c) => c.name),
      ["node", "sqlite", "swarm file", "store", "transport"],
      "the same checks, one each",
    );
  });

  test("a port where another protocol answers fails the transport", async () => {
    const r = await doctor(["--transport", `nats://127.0.0.1:${port}`]);
    assert.equal(r.code, 1, JSON.stringify(r.report));
    assert.equal(r.check("transport")?.ok, false);
    assert.match(r.check("transport")?.detail ?? "", new RegExp(`127\\.0\\.0\\.1:${port}`));
  });

  test("RabbitMQ refusing the login fails the transport; the right login passes", async (t) => {
    const url = process.env["CONCLAVE_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672";
    const good = await doctor(["--transport", url]);
    if (good.check("transport")?.ok !== true) {
      t.skip(`RabbitMQ at ${url} is unreachable: ${good.check("transport")?.detail}`);
      return;
    }
    const wrong = new URL(url);
    wrong.password = "not-the-password";
    const bad = await doctor(["--transport", wrong.href]);
    assert.equal(bad.code, 1, JSON.stringify(bad.report));
    assert.match(bad.check("transport")?.detail ?? "", /refused the login/);
    assert.doesNotMatch(bad.check("transport")?.detail ?? "", /not-the-password/);
  });
});
