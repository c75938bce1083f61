import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { runStoreConformance } from "../conformance/store.js";

runStoreConformance({
  name: "sqlite",
  async create() {
    const dir = mkdtempSync(join(tmpdir(), "conclave-store-"));
    const path = join(dir, "store.db");
    return {
      store: openSqliteStore({ path }),
      reopen: async () => openSqliteStore({ path }),
      destroy: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});
