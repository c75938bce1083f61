#!/usr/bin/env node
// The installed entry point runs the compiled CLI. `npm install` builds dist/
// through the `prepare` script; this message covers a checkout where it did not.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/cli/bin.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(
    "conclave: dist/ is missing; run `npm run build` (or `npm install`) first.\n",
  );
  process.exit(2);
}
await import(main.href);
