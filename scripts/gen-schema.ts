// Writes schema/swarm.schema.json from the zod schema, so editors complete and
// check swarm files. `--check` only compares, and exits 1 when the committed
// file is stale (run by the tests, so the two never drift apart).
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { swarmJsonSchema } from "../src/config/json-schema.js";

const target = fileURLToPath(new URL("../schema/swarm.schema.json", import.meta.url));
const expected = `${JSON.stringify(swarmJsonSchema(), null, 2)}\n`;

if (process.argv.includes("--check")) {
  const actual = await readFile(target, "utf8").catch(() => "");
  if (actual !== expected) {
    console.error(`${target} is out of date; regenerate it with: npm run schema`);
    process.exit(1);
  }
  console.log(`${target} is up to date`);
} else {
  await writeFile(target, expected);
  console.log(`wrote ${target}`);
}
