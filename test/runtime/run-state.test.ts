import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ConfigError, StateMismatchError } from "../../src/errors/index.js";
import { bindRunState, RUN_ID_KEY } from "../../src/runtime/run-state.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { Journal } from "../../src/transport/memory/journal.js";

const work = mkdtempSync(join(tmpdir(), "conclave-run-state-"));
after(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** A fresh journal and store, closed after `use`. */
async function withState(
  use: (parts: Parameters<typeof bindRunState>[0]) => Promise<void>,
): Promise<void> {
  n++;
  const journalPath = join(work, `${n}.journal.db`);
  const journal = new Journal(journalPath);
  const store = openSqliteStore({ path: join(work, `${n}.db`) });
  try {
    await use({ journal, journalPath, store, storeName: `sqlite:${n}.db` });
  } finally {
    journal.close();
    await store.close();
  }
}

const ids =
  (...list: string[]) =>
  () =>
    list.shift() ?? assert.fail("asked for one id too many");

/** A completed task in the store: the data a run leaves. */
async function completeOneTask(store: Parameters<typeof bindRunState>[0]["store"]) {
  await store.completeTask({
    taskId: "01JTASK",
    agent: "dev-1",
    at: 1,
    effects: [{ kind: "code.done", key: "t-1", data: "{}" }],
    outbox: [],
  });
}

describe("bindRunState", () => {
  test("first start: one new id written to both; later starts find it", async () => {
    await withState(async (parts) => {
      assert.equal(await bindRunState(parts, ids("RUN-A")), "RUN-A");
      assert.equal(parts.journal.getMeta(RUN_ID_KEY), "RUN-A");
      assert.equal(await parts.store.getMeta(RUN_ID_KEY), "RUN-A");
      assert.equal(await bindRunState(parts, ids()), "RUN-A");
    });
  });

  test("different ids: StateMismatchError naming both files", async () => {
    await withState(async (parts) => {
      parts.journal.setMeta(RUN_ID_KEY, "RUN-A");
      await parts.store.setMeta(RUN_ID_KEY, "RUN-B");
      await assert.rejects(bindRunState(parts, ids()), (error: unknown) => {
        assert.ok(error instanceof StateMismatchError);
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, "E_STATE_MISMATCH");
        assert.equal(error.journal, parts.journalPath);
        assert.match(error.message, /journal records run RUN-A, the store run RUN-B/);
        assert.match(error.message, /--data-dir/);
        return true;
      });
    });
  });

  test("a store with an id and data, beside a journal without one: refused", async () => {
    await withState(async (parts) => {
      await parts.store.setMeta(RUN_ID_KEY, "RUN-A");
      await completeOneTask(parts.store);
      await assert.rejects(
        bindRunState(parts, ids()),
        (error: unknown) =>
          error instanceof StateMismatchError &&
          /the store records run RUN-A and the journal none/.test(error.message),
      );
      assert.equal(parts.journal.getMeta(RUN_ID_KEY), undefined, "nothing adopted");
    });
  });

  test("a journal with an id and messages, beside a store without one: refused", async () => {
    await withState(async (parts) => {
      parts.journal.setMeta(RUN_ID_KEY, "RUN-A");
      await parts.journal.put({
        queue: "work",
        seq: 1,
        subject: "s.task.dev.code",
        msgId: "m-1",
        headers: {},
        data: new Uint8Array([1]),
        deliveries: 0,
        visibleAt: 0,
      });
      await assert.rejects(bindRunState(parts, ids()), StateMismatchError);
      assert.equal(await parts.store.getMeta(RUN_ID_KEY), undefined);
    });
  });

  test("an id on one side and no data on either: adopted by the other", async () => {
    await withState(async (parts) => {
      parts.journal.setMeta(RUN_ID_KEY, "RUN-A");
      assert.equal(await bindRunState(parts, ids()), "RUN-A");
      assert.equal(await parts.store.getMeta(RUN_ID_KEY), "RUN-A");
    });
    await withState(async (parts) => {
      await parts.store.setMeta(RUN_ID_KEY, "RUN-B");
      assert.equal(await bindRunState(parts, ids()), "RUN-B");
      assert.equal(parts.journal.getMeta(RUN_ID_KEY), "RUN-B");
    });
  });

  test("state from before run ids (data, no id on either side) is adopted under a new id", async () => {
    await withState(async (parts) => {
      await completeOneTask(parts.store);
      assert.equal(await bindRunState(parts, ids("RUN-C")), "RUN-C");
      assert.equal(await parts.store.getMeta(RUN_ID_KEY), "RUN-C");
    });
  });
});
