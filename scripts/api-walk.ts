/**
 * Walks the public entry points (package.json "exports") with the TypeScript
 * compiler and lists every exported symbol with its TSDoc comment. The doc
 * check (test/docs/api-docs.test.ts) and the generator of docs/API.md
 * (scripts/gen-api-docs.ts) read the same walk, so what the reference shows
 * is exactly what the check requires.
 */
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

/** One exported name of one entry point. */
export interface ApiSymbol {
  readonly entry: string;
  readonly name: string;
  readonly kind: string;
  /** The TSDoc text, "" when the declaration has none. */
  readonly doc: string;
  /** Tagged `@internal`: exported for the package's own modules, left out of the reference. */
  readonly internal: boolean;
  /** `@example` blocks, as written. */
  readonly examples: readonly string[];
  readonly signature: string;
  /** The file that declares it, relative to the repository. */
  readonly source: string;
  readonly members: readonly ApiMember[];
}

/** A public member (method, property, accessor) of an exported class or interface. */
export interface ApiMember {
  readonly name: string;
  readonly doc: string;
  readonly signature: string;
}

/** One entry point: its import specifier and the source file it builds from. */
export interface ApiEntry {
  readonly specifier: string;
  readonly file: string;
}

/** The entry points named in package.json "exports", mapped from dist/*.d.ts back to src/*.ts. */
export function publicEntries(root: string): ApiEntry[] {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    name: string;
    exports: Record<string, string | { types?: string }>;
  };
  const entries: ApiEntry[] = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const types = typeof target === "string" ? undefined : target.types;
    if (types === undefined) continue;
    const file = join(root, types.replace(/^\.\/dist\//, "src/").replace(/\.d\.ts$/, ".ts"));
    entries.push({
      specifier: subpath === "." ? pkg.name : `${pkg.name}${subpath.slice(1)}`,
      file,
    });
  }
  return entries;
}

/** Walks every entry point and returns its exported symbols, sorted by name. */
export function walkPublicApi(root: string): Map<string, ApiSymbol[]> {
  const entries = publicEntries(root);
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, "tsconfig.build.json"),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  const program = ts.createProgram({
    rootNames: entries.map((entry) => entry.file),
    options: { ...(config?.options ?? {}), noEmit: true },
  });
  const checker = program.getTypeChecker();
  const out = new Map<string, ApiSymbol[]>();
  for (const entry of entries) {
    const file = program.getSourceFile(entry.file);
    const moduleSymbol = file && checker.getSymbolAtLocation(file);
    if (moduleSymbol === undefined) throw new Error(`cannot read the entry point ${entry.file}`);
    const symbols = checker
      .getExportsOfModule(moduleSymbol)
      .map((exported) => describe(root, checker, entry.specifier, exported))
      .sort((a, b) => a.name.localeCompare(b.name));
    out.set(entry.specifier, symbols);
  }
  return out;
}

function describe(
  root: string,
  checker: ts.TypeChecker,
  entry: string,
  exported: ts.Symbol,
): ApiSymbol {
  const target =
    exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const declaration = target.declarations?.[0];
  const doc = docOf(checker, target);
  const tags = target.getJsDocTags(checker);
  const examples = tags
    .filter((tag) => tag.name === "example")
    .map((tag) => ts.displayPartsToString(tag.text).trim());
  return {
    entry,
    name: exported.name,
    kind: declaration ? kindOf(declaration) : "unknown",
    doc,
    internal: tags.some((tag) => tag.name === "internal"),
    examples,
    signature: declaration ? signatureOf(declaration) : exported.name,
    // The file only: a line number would make the reference stale at every edit above it.
    source: declaration ? relative(root, declaration.getSourceFile().fileName) : "",
    members: declaration ? membersOf(checker, declaration) : [],
  };
}

function docOf(checker: ts.TypeChecker, symbol: ts.Symbol): string {
  return ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
}

function kindOf(node: ts.Declaration): string {
  if (ts.isClassDeclaration(node)) return "class";
  if (ts.isInterfaceDeclaration(node)) return "interface";
  if (ts.isTypeAliasDeclaration(node)) return "type";
  if (ts.isFunctionDeclaration(node)) return "function";
  if (ts.isEnumDeclaration(node)) return "enum";
  if (ts.isVariableDeclaration(node)) return "const";
  if (ts.isModuleDeclaration(node)) return "namespace";
  return ts.SyntaxKind[node.kind];
}

/** The declaration's head: up to the body for functions and classes, the whole of short types. */
function signatureOf(node: ts.Declaration): string {
  const text = node.getText();
  if (ts.isFunctionDeclaration(node) && node.body) {
    return squeeze(text.slice(0, node.body.getStart() - node.getStart()));
  }
  if (ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node)) {
    return squeeze(text.slice(0, text.indexOf("{")));
  }
  if (ts.isVariableDeclaration(node)) {
    const list = node.parent;
    const keyword =
      ts.isVariableDeclarationList(list) && list.flags & ts.NodeFlags.Const ? "const" : "let";
    const head = node.type ? `${node.name.getText()}: ${node.type.getText()}` : node.name.getText();
    return squeeze(`${keyword} ${head}`);
  }
  return squeeze(text.length > 400 ? `${text.slice(0, 400)} …` : text);
}

function squeeze(text: string): string {
  return text
    .replace(/^export\s+/, "")
    .replace(/^declare\s+/, "")
    .replace(/\s+/g, " ")
    .trim();
}

function membersOf(checker: ts.TypeChecker, node: ts.Declaration): ApiMember[] {
  if (!ts.isClassDeclaration(node) && !ts.isInterfaceDeclaration(node)) return [];
  const members: ApiMember[] = [];
  const seen = new Set<string>();
  for (const member of node.members) {
    if (!isPublic(member) || member.name === undefined) continue;
    if (ts.isConstructorDeclaration(member) || ts.isIndexSignatureDeclaration(member)) continue;
    const name = member.name.getText();
    if (name.startsWith("#") || seen.has(name)) continue;
    seen.add(name);
    const memberSymbol = checker.getSymbolAtLocation(member.name);
    members.push({
      name,
      doc: memberSymbol ? docOf(checker, memberSymbol) : "",
      signature: memberSignature(member),
    });
  }
  return members;
}

function isPublic(member: ts.ClassElement | ts.TypeElement): boolean {
  const modifiers = ts.canHaveModifiers(member) ? ts.getModifiers(member) : undefined;
  return !modifiers?.some(
    (modifier) =>
      modifier.kind === ts.SyntaxKind.PrivateKeyword ||
      modifier.kind === ts.SyntaxKind.ProtectedKeyword,
  );
}

function memberSignature(member: ts.ClassElement | ts.TypeElement): string {
  const text = member.getText();
  const body = (member as { body?: ts.Node }).body;
  const head = body ? text.slice(0, body.getStart() - member.getStart()) : text;
  return squeeze(head.replace(/\/\*\*[\s\S]*?\*\//g, "").replace(/;$/, ""));
}

/**
 * The types a swarm's author meets first (the swarm, its agents, the handler
 * context, what policies, vote handlers and judges return): their public
 * members must be documented too, not only their names.
 */
export const CORE_API = [
  "createSwarm",
  "Swarm",
  "SwarmOptions",
  "SwarmRoleConfig",
  "Agent",
  "AgentSpec",
  "AgentBudget",
  "TaskHandler",
  "TaskContext",
  "StagingContext",
  "StartContext",
  "SubmitOptions",
  "CallOptions",
  "GatherCall",
  "Gathered",
  "Escrow",
  "SwarmModule",
  "SetupContext",
  "openSwarm",
  "VoteHandler",
  "VoteContext",
  "PolicyVerdict",
  "VoterPolicy",
  "BidHandler",
  "BidOffer",
  "AuctionOutcome",
  "JudgeVerdict",
  "TaskOutcome",
  "createTestSwarm",
  "TestSwarm",
] as const;

/**
 * What lacks documentation: every exported symbol without a TSDoc comment
 * (unless `@internal`), and every public member of the {@link CORE_API} types
 * without one. Empty when the reference is complete.
 */
export function undocumented(
  api: ReadonlyMap<string, readonly ApiSymbol[]>,
  core: readonly string[] = CORE_API,
): string[] {
  const missing: string[] = [];
  const coreNames = new Set(core);
  for (const [entry, symbols] of api) {
    for (const symbol of symbols) {
      if (symbol.internal) continue;
      if (symbol.doc === "") missing.push(`${entry}: ${symbol.name} (${symbol.source})`);
      if (!coreNames.has(symbol.name)) continue;
      for (const member of symbol.members) {
        if (member.doc === "") {
          missing.push(`${entry}: ${symbol.name}.${member.name} (${symbol.source})`);
        }
      }
    }
  }
  return [...new Set(missing)];
}
