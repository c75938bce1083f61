/**
 * Importing a user's swarm module: a JavaScript file as Node imports it, or
 * a TypeScript one (`module: ./agents.ts`, what `conclave init` writes)
 * through the project's own `tsx` when this Node cannot import `.ts` files
 * itself; and, when the import fails, a message that says why.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigError } from "../errors/index.js";

const TYPESCRIPT = /\.[mc]?ts$/;

/** Frames of the import error's stack shown: enough to find the line, not a wall. */
const STACK_LINES = 4;

/** The cause of a failed import in a few lines: its message, then the head of its stack. */
export function describeImportFailure(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as { code?: unknown }).code;
  const head = `${cause.name}: ${cause.message}${typeof code === "string" ? ` [${code}]` : ""}`;
  // A module not found: the message names what and from where; the frames are the resolver's.
  if (code === "ERR_MODULE_NOT_FOUND") return head;
  const frames = (cause.stack ?? "")
    .split("\n")
    .slice(1)
    // Node's own frames (its module resolver's) do not help find the line.
    .filter((line) => line.trim().startsWith("at ") && !line.includes("node:internal"))
    .slice(0, STACK_LINES)
    .map((line) => `    ${line.trim()}`);
  return [head, ...frames].join("\n");
}

/**
 * Registers the tsx found from `dir` (the project's: `npm install -D tsx`),
 * through its ESM API; false without one. Its package.json names the ESM
 * entry (a `require.resolve` would pick the CommonJS one).
 */
async function registerProjectTsx(dir: string): Promise<boolean> {
  let manifest: string;
  try {
    manifest = createRequire(join(dir, "package.json")).resolve("tsx/package.json");
  } catch {
    return false;
  }
  const { exports } = JSON.parse(readFileSync(manifest, "utf8")) as {
    exports?: Record<string, { import?: string | { default?: string } }>;
  };
  const entry = exports?.["./esm/api"]?.import;
  const file = typeof entry === "string" ? entry : entry?.default;
  if (file === undefined) return false;
  const api = (await import(pathToFileURL(join(dirname(manifest), file)).href)) as {
    register(): unknown;
  };
  api.register();
  return true;
}

let tsxRegistered = false;

/**
 * Imports the module at `path` (absolute). A TypeScript module that this
 * Node cannot import is imported through the `tsx` installed in its
 * project (`npm install -D tsx`).
 *
 * @throws ConfigError naming the module and the cause (message and the head of its stack).
 */
export async function importUserModule(path: string, what: string): Promise<unknown> {
  if (!existsSync(path)) {
    throw new ConfigError(
      `cannot import the ${what} ${path}: no such file; check the path (a relative one is read from the swarm file's folder)`,
    );
  }
  const typescript = TYPESCRIPT.test(path);
  // Registered before the first import: Node remembers a failed import of a URL.
  if (typescript && !nodeRunsTypeScript() && !tsxRegistered) {
    tsxRegistered = await registerProjectTsx(dirname(path));
  }
  try {
    return await import(pathToFileURL(path).href);
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    if (typescript && code === "ERR_UNKNOWN_FILE_EXTENSION" && !tsxRegistered) {
      throw new ConfigError(
        `cannot import the ${what} ${path}: it is TypeScript and this Node (${process.version}) does not run TypeScript itself; install tsx in its project (npm install -D tsx), or point module: at a .js/.mjs file`,
        [],
        { cause },
      );
    }
    throw new ConfigError(
      `cannot import the ${what} ${path}:\n  ${describeImportFailure(cause)}`,
      [],
      { cause },
    );
  }
}

/** Whether this Node imports `.ts` files itself (type stripping, Node 22.6+ with it on). */
function nodeRunsTypeScript(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript);
}
