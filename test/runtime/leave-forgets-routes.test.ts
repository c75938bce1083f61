/**
 * An agent that left gracefully (its node drained, a signed
 * `registry.leave`) was dropped from the registry, but every other node kept
 * what its request routing had learnt of it (in-flight count, reputation):
 * only an agent that fell silent was forgotten. With agents coming and
 * going for a long run that state grew without bound. A leave now forgets
 * the agent's routes as silence does.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { Requests } from "../../src/runtime/requests.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

test("a graceful leave forgets the agent's routes on the other nodes", async () => {
  const forgotten: string[] = [];
  const forget = Requests.prototype.forget;
  Requests.prototype.forget = function (this: Requests, id: string) {
    forgotten.push(id);
    forget.call(this, id);
  };
  const { node, cleanup } = sharedBrokerNodes({
    name: "leaveroutes",
    roles: { dev: { tasks: ["code"] }, lead: {} },
    defaults: { heartbeatMs: 50, suspectAfterMs: 30_000, leftAfterMs: 60_000 },
  });
  try {
    const a = node("node-a");
    const events: SwarmEvent[] = [];
    a.on((e) => events.push(e));
    a.agent({ id: "lead", role: "lead" });
    await a.start();
    const b = node("node-b");
    b.agent({ id: "dev-1", role: "dev" }).handle("code", () => "ok");
    await b.start();
    await until(() => a.registry.get("dev-1") !== undefined, 10_000, "dev-1 heard");
    assert.equal(await a.request("dev", "code", {}, { as: "lead", timeoutMs: 5000 }), "ok");
    await b.drain();
    await until(
      () => events.some((e) => e.type === "agent.left" && e.card.id === "dev-1"),
      10_000,
      "dev-1 left",
    );
    assert.deepEqual(forgotten, ["dev-1"]);
  } finally {
    Requests.prototype.forget = forget;
    await cleanup();
  }
});
