import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { checkConcurrentWriters } from "./multi-process.js";

test("sqlite: three processes create, migrate and write one new file at once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-store-processes-"));
  const path = join(dir, "store.db");
  try {
    await checkConcurrentWriters({
      backend: "sqlite",
      target: path,
      writers: 3,
      open: async () => openSqliteStore({ path }),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
