/**
 * The API reference stays complete and true: every symbol exported by a
 * public entry point (package.json "exports") has a TSDoc comment, the
 * members of the types a swarm's author meets first have one too, and
 * docs/API.md is what the generator writes from them today.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ApiSymbol, undocumented, walkPublicApi } from "../../scripts/api-walk.js";
import { renderApiReference } from "../../scripts/gen-api-docs.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
let walked: Map<string, ApiSymbol[]> | undefined;
/** One walk of the real entry points (a type-checked program: seconds) for the tests below. */
const api = () => {
  walked ??= walkPublicApi(root);
  return walked;
};

test("every exported symbol of the public entry points is documented", () => {
  const entries = [...api().keys()];
  assert.deepEqual(entries, [
    "conclave",
    "conclave/nats",
    "conclave/amqp",
    "conclave/postgres",
    "conclave/testkit",
  ]);
  const missing = undocumented(api());
  assert.deepEqual(missing, [], `add a TSDoc comment (/** … */) to:\n  ${missing.join("\n  ")}`);
});

test("the handler context's members are in the reference", () => {
  const context = api()
    .get("conclave")
    ?.find((symbol) => symbol.name === "TaskContext");
  const members = new Set(context?.members.map((member) => member.name));
  for (const name of ["finish", "gather", "call", "step", "signal", "escrow", "attempt", "body"]) {
    assert.ok(members.has(name), `TaskContext.${name} is listed`);
  }
});

test("docs/API.md is what scripts/gen-api-docs.ts writes", () => {
  const committed = readFileSync(join(root, "docs/API.md"), "utf8");
  assert.ok(
    committed === renderApiReference(api()),
    "docs/API.md is out of date; regenerate it with: npx tsx scripts/gen-api-docs.ts",
  );
});

const fixture = mkdtempSync(join(tmpdir(), "conclave-api-docs-"));
after(() => rmSync(fixture, { recursive: true, force: true }));

test("the check names an undocumented export and an undocumented member, and skips @internal", () => {
  mkdirSync(join(fixture, "src"));
  writeFileSync(
    join(fixture, "package.json"),
    JSON.stringify({
      name: "fixture",
      exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } },
    }),
  );
  // No @types and a small lib: the walk of three lines takes no time.
  writeFileSync(
    join(fixture, "tsconfig.build.json"),
    JSON.stringify({ compilerOptions: { lib: ["ES2022"], types: [], module: "NodeNext" } }),
  );
  writeFileSync(
    join(fixture, "src/index.ts"),
    [
      "/** Documented. */",
      "export function documented(): void {}",
      "export const bare = 1;",
      "/** @internal */",
      "export const hidden = 2;",
      "/** A core type. */",
      "export interface Core {",
      "  /** Documented. */",
      "  readonly said: number;",
      "  readonly unsaid: number;",
      "}",
      "",
    ].join("\n"),
  );
  const missing = undocumented(walkPublicApi(fixture), ["Core"]);
  assert.deepEqual(missing, [
    "fixture: bare (src/index.ts)",
    "fixture: Core.unsaid (src/index.ts)",
  ]);
});
