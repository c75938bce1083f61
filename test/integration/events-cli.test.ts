/**
 * `conclave events` on a private nats-server: started before a run of the
 * research swarm, it prints the `llm.call` events the researchers publish,
 * signed by them; on the embedded transport it explains what to do instead.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { finish, jsonLines, root, start } from "../cli/run-cli.js";
import {
  answer,
  type OpenAiServer,
  startOpenAiServer,
  toolCalls,
} from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";

describe("conclave events", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-events-"));
  let model: OpenAiServer | undefined;
  let broker: NatsServer | undefined;
  after(async () => {
    await model?.close();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("prints the llm.call events of a run on the broker, filtered by type", async (t) => {
    if (!natsServerAvailable() && process.env["CI"] !== "true") {
      t.skip("no nats-server binary on PATH");
      return;
    }
    broker = await startNatsServer();
    model = await startOpenAiServer({
      responder: (request) => {
        const messages = request.body.messages ?? [];
        const system = String(messages.find((m) => m.role === "system")?.content ?? "");
        if (system.includes("You plan research"))
          return answer(JSON.stringify({ subquestions: ["a", "b"] }));
        if (system.includes("You review research"))
          return answer(JSON.stringify({ approved: true, answer: "ok" }));
        if (!messages.some((m) => m.role === "tool"))
          return toolCalls([{ name: "search_web", arguments: { query: "q" } }]);
        return answer("finding");
      },
    });
    cpSync(join(root, "examples", "research-swarm"), dir, { recursive: true });
    const file = join(dir, "swarm.yaml");
    const env = { OPENAI_BASE_URL: model.url, CONCLAVE_MODEL: "test-model" };
    const listener = start(
      [
        "events",
        "--swarm",
        file,
        "--transport",
        broker.url,
        "--type",
        "llm.call",
        "--limit",
        "3",
        "--seconds",
        "60",
        "--json",
      ],
      dir,
      env,
    );
    let stderr = "";
    listener.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const listened = finish(listener);
    await until(() => stderr.includes("listening on"), 20_000, "the listener");
    const run = await finish(
      start(
        ["up", file, "--transport", broker.url, "--tasks", "1", "--json", "--timeout", "60"],
        dir,
        env,
      ),
    );
    assert.equal(run.code, 0, run.stderr.slice(-1000));
    const printed = await listened;
    assert.equal(printed.code, 0, printed.stderr);
    const events = jsonLines(printed.stdout);
    assert.equal(events.length, 3);
    for (const event of events) {
      assert.equal(event.type, "llm.call");
      assert.equal((event.body as { model: string }).model, "local");
      assert.ok(typeof event.cause === "string", "caused by the task that made the call");
    }
  });

  test("on the embedded transport: exit 2 saying to pass a broker", async () => {
    cpSync(join(root, "examples", "research-swarm"), join(dir, "embedded"), { recursive: true });
    const run = await finish(
      start(["events", "--swarm", join(dir, "embedded", "swarm.yaml")], dir),
    );
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--transport nats:\/\/… or amqp:\/\/…/);
  });
});
