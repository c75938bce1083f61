/**
 * The one way a store is opened from its URL: by the swarm runtime, by every
 * command of the CLI and by library users. Readers pass `create: false` so a
 * mistyped path is an error instead of a new, empty store.
 */
import { homedir } from "node:os";
import { ConfigError } from "../errors/index.js";
import type { Store } from "./port.js";
import { schemaNameProblem } from "./schema-name.js";
import { openSqliteStore } from "./sqlite-store.js";

/** Where a store URL points, as {@link parseStoreUrl} reads it. */
export type StoreLocation =
  /** A SQLite file (`path` as written, relative to the working directory), or `":memory:"`. */
  | { readonly kind: "sqlite"; readonly path: string }
  /** A Postgres database (`url` without the `schema` parameter) and the schema holding the tables. */
  | { readonly kind: "postgres"; readonly url: string; readonly schema?: string };

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /**
   * Create the store when it does not exist (default true): the SQLite file
   * and its folders, or the Postgres schema, then the tables. `false` is for
   * commands that only read: a missing SQLite file, or a Postgres schema that
   * does not exist or holds no conclave tables, is a `StoreNotFoundError`,
   * and nothing is created.
   */
  readonly create?: boolean;
  /**
   * SQLite: `full` fsyncs every commit (survives power loss); default `normal`
   * (survives kill -9). Postgres: `full` reports a server that commits
   * without flushing its WAL (`fsync` or `synchronous_commit` off).
   */
  readonly synchronous?: "normal" | "full";
}

const SQLITE = "sqlite:";
const POSTGRES = /^postgres(ql)?:\/\//;
const STORE_FORMS = "sqlite:<path> (a SQLite file) or postgres://user@host/db?schema=name";

/**
 * Reads a store URL: `sqlite:<path>`, `sqlite::memory:`, or
 * `postgres://…` / `postgresql://…` with an optional `?schema=name`.
 *
 * @throws ConfigError saying what to write instead, for an empty URL, one
 * with spaces or line breaks around it, a URL without a scheme (`./x.db`:
 * write `sqlite:./x.db`), a `sqlite://` URL, an empty path or schema, a
 * path starting with `~` (not expanded), a malformed Postgres URL, or
 * another scheme. A password in the URL is never shown.
 *
 * @example
 * ```ts
 * parseStoreUrl("postgres://conclave@db/swarm?schema=review");
 * // { kind: "postgres", url: "postgres://conclave@db/swarm", schema: "review" }
 * ```
 */
export function parseStoreUrl(url: string): StoreLocation {
  if (url.trim() === "") {
    // An unset environment variable: not a file named "" or " ".
    throw new ConfigError(`no store URL given (${JSON.stringify(url)}): write ${STORE_FORMS}`);
  }
  if (url.trim() !== url) {
    // An environment variable read with its newline, a pasted space: not a
    // file name nor a host to look for.
    throw new ConfigError(
      `store "${withoutPassword(url.trim())}" has spaces or line breaks around it: remove them`,
    );
  }
  if (url.startsWith(SQLITE)) {
    const path = url.slice(SQLITE.length);
    if (path.startsWith("//")) {
      // sqlite:///x means different files to different tools; ask for the one form.
      throw new ConfigError(
        `store "${withoutPassword(url)}" is not a sqlite:<path>: write the path right after "sqlite:", without "//" (e.g. sqlite:${withoutPassword(path.slice(2)) || "./swarm.db"})`,
      );
    }
    if (path.trim() === "") {
      throw new ConfigError(
        `store "${url}" names no file: write sqlite:<path>, e.g. sqlite:.conclave/swarm.db`,
      );
    }
    if (path === "~" || path.startsWith("~/")) {
      // Only a shell expands ~, and only at the start of a word: --store
      // sqlite:~/x.db arrives as written, and named a folder "~" here.
      throw new ConfigError(
        `store "${url}" starts with ~, which is not expanded here (it would name a folder "~" in the working directory): write the full path, e.g. sqlite:${homedir()}${path.slice(1)}`,
      );
    }
    return { kind: "sqlite", path };
  }
  if (POSTGRES.test(url)) return parsePostgresUrl(url);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  const lower = scheme?.toLowerCase();
  if (/^postgres(ql)?(\/\/|:(?!\/\/))/i.test(url)) {
    // postgres//…, postgres:/…, postgres:…: a Postgres URL with a typo.
    throw new ConfigError(
      `store "${withoutPassword(url)}" is not a well-formed Postgres URL: write postgres://user:password@host:5432/database?schema=name`,
    );
  }
  if (scheme === undefined) {
    const shown = withoutPassword(url);
    throw new ConfigError(
      `store "${shown}" has no scheme: write sqlite:${shown} for a SQLite file, or a postgres:// URL`,
    );
  }
  if (lower === "sqlite") {
    throw new ConfigError(
      `store scheme "${scheme}:" is not supported: write the scheme in lower case: sqlite:`,
    );
  }
  if (lower === "postgres" || lower === "postgresql") {
    throw new ConfigError(
      `store scheme "${scheme}:" is not supported: write the scheme in lower case: ${lower}://`,
    );
  }
  throw new ConfigError(`store scheme "${scheme}:" is not supported: write ${STORE_FORMS}`);
}

/**
 * `text` with the password of a `user:password@` part replaced by `***`:
 * a URL the parser could not read is still shown in its error, and may be
 * a Postgres URL with a typo.
 */
function withoutPassword(text: string): string {
  // libpq's ?password=, ?sslpassword= and the like.
  const query = (rest: string) =>
    rest.replace(/([?&;])([^=&;#]*(?:pass|pwd|secret|token|key)[^=&;#]*)=([^&;#]*)/gi, "$1$2=***");
  // The user info ends at the last "@": a password may hold "?", "/" or "@".
  const queryAt = text.indexOf("?", text.lastIndexOf("@") + 1);
  const head = queryAt < 0 ? text : text.slice(0, queryAt);
  const tail = queryAt < 0 ? "" : query(text.slice(queryAt));
  const at = head.lastIndexOf("@");
  if (at < 0) return head + tail;
  const slashes = head.indexOf("//");
  const from = slashes >= 0 && slashes < at ? slashes + 2 : 0;
  const colon = head.indexOf(":", from);
  if (colon < 0 || colon > at) return head + tail;
  return `${head.slice(0, colon + 1)}***${head.slice(at)}${tail}`;
}

// The URL may hold a password, so messages name only what is wrong with it.
function parsePostgresUrl(url: string): StoreLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigError(
      "the postgres:// store URL is not well-formed: write postgres://user:password@host:5432/database?schema=name, percent-encoding special characters in the user name and password",
      [],
      { cause },
    );
  }
  const schemas = parsed.searchParams.getAll("schema");
  if (schemas.length > 1) {
    // Which one wins differs between tools; a store must not be chosen by that.
    throw new ConfigError(
      `the postgres:// store URL names ${schemas.length} schemas (?schema=${schemas.join("&schema=")}): keep one ?schema= parameter`,
    );
  }
  const schema = schemas[0] ?? null;
  if (schema !== null && schema.trim() === "") {
    throw new ConfigError(
      "the postgres:// store URL has an empty ?schema=: name the schema (?schema=review) or leave the parameter out for public",
    );
  }
  const problem = schema === null ? undefined : schemaNameProblem(schema);
  if (problem !== undefined) throw new ConfigError(`the postgres:// store URL's ${problem}`);
  parsed.searchParams.delete("schema");
  return { kind: "postgres", url: parsed.toString(), ...(schema === null ? {} : { schema }) };
}

/**
 * Opens the store a URL names (see {@link parseStoreUrl}), ready to use: its
 * schema migrated, or the failure thrown here. The Postgres driver (`pg`) is
 * loaded only for a `postgres://` URL.
 *
 * @throws ConfigError for a URL it cannot read (with what to write instead).
 * @throws StoreNotFoundError with `create: false`, when the store does not exist.
 * @throws StoreError when the store cannot be opened or migrated.
 *
 * @example
 * ```ts
 * const store = await openStore("sqlite:.conclave/demo/review-swarm.db", { create: false });
 * try { console.log(await store.ledgerCheck()); } finally { await store.close(); }
 * ```
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const location = parseStoreUrl(url);
  const create = options.create ?? true;
  if (location.kind === "postgres") {
    const { openPostgresStore } = await import("./postgres-store.js");
    return openPostgresStore({
      url: location.url,
      create,
      ...(location.schema === undefined ? {} : { schema: location.schema }),
      ...(options.synchronous === "full" ? { syncEveryWrite: true } : {}),
    });
  }
  const store = openSqliteStore({
    path: location.path,
    create,
    ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
  });
  try {
    await store.ready();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
