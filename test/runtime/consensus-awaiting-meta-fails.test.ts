/**
 * A proposal with people among its voters is published, and its round runs,
 * before its body is kept in the store for `conclave approve` on other
 * machines. When that write failed (the store unreachable for a moment),
 * `propose` rejected with the store's error while the round it had started
 * went on and was sealed: the caller, told it failed, proposed again (two
 * rounds, two decisions for one request), and the first round's promise,
 * which nobody held any more, rejected unhandled if its seal failed too,
 * which ends a Node process. The write is now reported and the round's
 * decision returned.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { StoreError } from "../../src/errors/index.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createSwarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { createSignedEnvelope } from "../../src/wire/signature.js";
import { until } from "../helpers/until.js";

test("a failed write of the awaiting proposal is reported; propose still returns its round's decision", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-awaiting-"));
  const alice = generateAgentKeyPair();
  const sqlite = openSqliteStore({ path: join(dir, "store.db") });
  const store = new Proxy(sqlite, {
    get(target, name, receiver) {
      if (name === "setMeta") {
        return async (key: string, value: string) => {
          if (key.startsWith("consensus.awaiting.") && value !== "") {
            throw new StoreError("the store is unreachable");
          }
          return target.setMeta(key, value);
        };
      }
      const value = Reflect.get(target, name, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const swarm = createSwarm({
    name: "test",
    transport: createMemoryTransport({ journalPath: join(dir, "journal.db") }),
    store,
    keys: () => generateAgentKeyPair(),
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 3 },
        voters: ["lead"],
        deadlineMs: 4000,
        humans: [{ id: "alice", weight: 2, publicKey: encodePublicKey(alice.publicKey) }],
      },
    },
  });
  swarm.agent({ id: "lead-1", role: "lead", weight: 1 });
  const events: SwarmEvent[] = [];
  swarm.on((e) => events.push(e));
  try {
    await swarm.start();
    const decided = swarm.propose("funds.transfer", { amount: 1 }, { as: "lead-1" });
    decided.catch(() => undefined); // awaited below
    await until(() => swarm.awaitingHumans().length === 1, 5000, "the proposal to wait");
    const id = swarm.awaitingHumans()[0]?.proposal.id ?? "";
    const ballot = swarm.humanBallot(id, "alice", "approve");
    swarm.castHumanVote(id, createSignedEnvelope(ballot.envelope as never, alice.privateKey));
    const decision = await decided;
    assert.equal(decision.outcome, "approved");
    assert.ok(
      events.some((e) => e.type === "error" && /unreachable/.test(e.error)),
      "the failed write is reported",
    );
  } finally {
    await swarm.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
