// Writes docs/API.md from the TSDoc comments of the public entry points
// (package.json "exports"), walked by scripts/api-walk.ts. `--check` only
// compares, and exits 1 when the committed file is stale or a symbol lacks
// documentation (test/docs/api-docs.test.ts runs the same checks).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type ApiSymbol, CORE_API, undocumented, walkPublicApi } from "./api-walk.js";

/** Areas of `src/`, in the order a reader meets them. */
const AREAS: Readonly<Record<string, string>> = {
  runtime: "Swarm, agents and the handler context",
  testkit: "Testing",
  config: "Swarm files",
  consensus: "Consensus and voter policies",
  ensemble: "Ensembles and judges",
  llm: "Models",
  ledger: "Credits",
  market: "Auctions",
  hierarchy: "Hierarchy and autoscaling",
  routing: "Routing",
  registry: "Registry",
  delivery: "Delivery and retries",
  identity: "Identity and keys",
  wire: "Envelopes and signatures",
  store: "Stores",
  transport: "Transports",
  errors: "Errors",
  core: "Clock and randomness",
};

/** The reference as markdown: a "start here" list, then every entry point by area. */
export function renderApiReference(api: ReadonlyMap<string, readonly ApiSymbol[]>): string {
  const out: string[] = [
    "# API reference",
    "",
    "Generated from the TSDoc comments by `npx tsx scripts/gen-api-docs.ts`; do not edit by hand.",
    "`test/docs/api-docs.test.ts` fails when an exported symbol has no documentation or this file",
    "is stale. For a walk-through, read [your first swarm](FIRST-SWARM.md).",
    "",
    "## Start here",
    "",
  ];
  for (const name of CORE_API) {
    const found = [...api].find(([, symbols]) => symbols.some((s) => s.name === name));
    const symbol = found?.[1].find((s) => s.name === name);
    if (found && symbol) {
      out.push(
        `- [\`${name}\`](#${anchor(found[0], name)}) (\`${found[0]}\`): ${firstSentence(symbol.doc)}`,
      );
    }
  }
  out.push("", "## Entry points", "");
  for (const [entry, symbols] of api) {
    out.push(
      `- [\`${entry}\`](#${slug(entry)}): ${symbols.filter((s) => !s.internal).length} exports`,
    );
  }
  for (const [entry, symbols] of api) {
    out.push("", `## ${entry}`, "");
    const byArea = new Map<string, ApiSymbol[]>();
    for (const symbol of symbols) {
      if (symbol.internal) continue;
      const area = /^src\/([^/:]+)/.exec(symbol.source)?.[1] ?? "other";
      byArea.set(area, [...(byArea.get(area) ?? []), symbol]);
    }
    const areas = [...byArea.keys()].sort(
      (a, b) => areaRank(a) - areaRank(b) || a.localeCompare(b),
    );
    for (const area of areas) {
      if (entry === "conclave") out.push(`### ${AREAS[area] ?? area}`, "");
      for (const symbol of byArea.get(area) ?? []) out.push(...renderSymbol(entry, symbol));
    }
  }
  return `${out
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trimEnd()}\n`;
}

function renderSymbol(entry: string, symbol: ApiSymbol): string[] {
  const lines = [
    `<a id="${anchor(entry, symbol.name)}"></a>`,
    `#### \`${symbol.name}\``,
    "",
    `${symbol.kind} · [${symbol.source}](../${symbol.source})`,
    "",
    "```ts",
    symbol.signature,
    "```",
    "",
    links(symbol.doc),
    "",
  ];
  for (const example of symbol.examples) lines.push(example, "");
  const members = symbol.members.filter(
    (member) => member.doc !== "" || CORE_API.includes(symbol.name as never),
  );
  if (members.length > 0) {
    lines.push("| member | |", "| --- | --- |");
    for (const member of members) {
      lines.push(`| \`${cell(member.signature)}\` | ${cell(links(member.doc))} |`);
    }
    lines.push("");
  }
  return lines;
}

function areaRank(area: string): number {
  const rank = Object.keys(AREAS).indexOf(area);
  return rank < 0 ? Number.MAX_SAFE_INTEGER : rank;
}

function anchor(entry: string, name: string): string {
  return `${slug(entry)}-${name.toLowerCase()}`;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

/** The first sentence of a doc comment, `{@link}`s as code. */
function firstSentence(doc: string): string {
  const paragraph = doc.split(/\n\s*\n/)[0] ?? "";
  const flat = links(paragraph.replace(/\s+/g, " ").trim());
  const end = flat.search(/\.(\s|$)/);
  return end < 0 ? flat : flat.slice(0, end + 1);
}

/** `{@link X}` as `X` in code: the reference has no cross-links inside prose. */
function links(text: string): string {
  return text.replace(/\{@link\s+([^}|\s]+)(?:[\s|][^}]*)?\}/g, "`$1`");
}

/** A table cell: one line, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|");
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const target = fileURLToPath(new URL("../docs/API.md", import.meta.url));
  const api = walkPublicApi(root);
  const missing = undocumented(api);
  if (missing.length > 0) {
    console.error(
      `${missing.length} exported symbols lack a TSDoc comment:\n  ${missing.join("\n  ")}`,
    );
    process.exit(1);
  }
  const expected = renderApiReference(api);
  if (process.argv.includes("--check")) {
    let actual = "";
    try {
      actual = readFileSync(target, "utf8");
    } catch {}
    if (actual !== expected) {
      console.error(
        `${target} is out of date; regenerate it with: npx tsx scripts/gen-api-docs.ts`,
      );
      process.exit(1);
    }
    console.log(`${target} is up to date`);
  } else {
    writeFileSync(target, expected);
    console.log(`wrote ${target}`);
  }
}
