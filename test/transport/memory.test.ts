import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTransportConformance } from "../../src/testkit/conformance/transport.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import type { Transport } from "../../src/transport/port.js";

runTransportConformance({
  name: "memory (SQLite journal)",
  async create() {
    const dir = mkdtempSync(join(tmpdir(), "conclave-memory-"));
    const journalPath = join(dir, "journal.db");
    let broker = new MemoryBroker({ journalPath });
    const connections: Transport[] = [];
    return {
      async connect() {
        const t = createMemoryTransport({ broker });
        connections.push(t);
        return t;
      },
      async restart() {
        // As after kill -9: connections vanish, the journal file is all that remains.
        for (const t of connections) await t.close();
        broker.close();
        broker = new MemoryBroker({ journalPath });
      },
      async destroy() {
        for (const t of connections) await t.close();
        broker.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
