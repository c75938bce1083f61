/**
 * A dead letter records broken input, and broken input can hold a NUL
 * character: garbage bytes on the bus fail to parse, and the parse error
 * (the dead letter's reason) quotes them. Postgres cannot store a NUL in
 * text, so recording such a dead letter failed there every time ("invalid
 * byte sequence for encoding UTF8: 0x00"): the dead-letter consumer naks
 * and the message comes back forever, while SQLite stored it. Now both
 * record it, with each NUL written as the six characters `\u0000`.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import type { Store } from "../../src/store/port.js";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { decodeEnvelope } from "../../src/wire/index.js";
import { postgresUnreachable, postgresUrl } from "./ledger-backends.js";

const unreachable = await postgresUnreachable();
const skip = unreachable !== undefined && process.env["CI"] !== "true" ? unreachable : undefined;

const backends: {
  name: string;
  skip?: string;
  open(): Promise<{ store: Store; destroy(): Promise<void> }>;
}[] = [
  {
    name: "sqlite",
    async open() {
      const store = openSqliteStore({ path: ":memory:" });
      return { store, destroy: () => store.close() };
    },
  },
  {
    name: "postgres",
    ...(skip === undefined ? {} : { skip }),
    async open() {
      if (unreachable !== undefined) throw new Error(`${unreachable}; CI must provide it`);
      const schema = `conclave_dlnul_${randomBytes(6).toString("hex")}`;
      const store = await openPostgresStore({ url: postgresUrl, schema, poolSize: 2 });
      return {
        store,
        async destroy() {
          await store.close();
          await dropPostgresSchema({ url: postgresUrl, schema });
        },
      };
    },
  },
];

/** The reason the runtime parks garbage bytes with: the parse error, quoting them. */
function garbageReason(): string {
  try {
    decodeEnvelope(Buffer.from([0, 1, 2]));
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
  assert.fail("garbage decoded");
}

for (const backend of backends) {
  describe(`dead letters holding NUL characters on ${backend.name}`, {
    ...(backend.skip ? { skip: backend.skip } : {}),
  }, () => {
    test("are recorded, with each NUL shown as \\u0000, and read back alike", async () => {
      const reason = garbageReason();
      assert.ok(reason.includes("\u0000"), "the parse error quotes the raw bytes");
      const { store, destroy } = await backend.open();
      try {
        await store.recordDeadLetter({
          id: "parked-1",
          subject: "swarm.dlq.in\u0000put",
          reason,
          deliveries: 1,
          at: 1_000,
          corr: "root\u0000",
          type: "task\u0000x",
          data: Buffer.from([0, 1, 2]).toString("base64"),
        });
        const stored = await store.deadLetter("parked-1");
        assert.deepEqual(stored, {
          id: "parked-1",
          subject: "swarm.dlq.in\\u0000put",
          reason: reason.replaceAll("\u0000", "\\u0000"),
          deliveries: 1,
          at: 1_000,
          corr: "root\\u0000",
          type: "task\\u0000x",
          data: "AAEC",
        });
        assert.deepEqual(await store.deadLetteredRoots(), ["root\\u0000"]);
        assert.deepEqual(await store.taskOutcome("parked-1"), {
          taskId: "parked-1",
          status: "dead_lettered",
          at: 1_000,
          reason: reason.replaceAll("\u0000", "\\u0000"),
        });
        // Recording it again (a redelivery of the same dead letter) is still a no-op.
        await store.recordDeadLetter({ ...(stored as NonNullable<typeof stored>), reason });
        assert.equal((await store.deadLetters()).length, 1);
      } finally {
        await destroy();
      }
    });
  });
}
