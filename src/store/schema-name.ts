/**
 * What Postgres accepts as the name of a store's schema, checked before any
 * connection: a name it would refuse, or change, otherwise failed only once
 * the server was reached, with its own words ("unacceptable schema name",
 * "invalid byte sequence") and a hint to check the URL and the server.
 */

/** The largest identifier Postgres keeps without truncating it. */
export const MAX_SCHEMA_NAME_BYTES = 63;

/**
 * Why `schema` cannot name a store's Postgres schema, with what to choose
 * instead; undefined when it can. Any other character is fine: the name is
 * always quoted.
 */
export function schemaNameProblem(schema: string): string | undefined {
  const shown = JSON.stringify(schema);
  if (schema.length === 0 || Buffer.byteLength(schema) > MAX_SCHEMA_NAME_BYTES) {
    return `schema name ${shown} must be 1 to ${MAX_SCHEMA_NAME_BYTES} bytes; choose a shorter one`;
  }
  if (schema.includes("\u0000")) {
    return `schema name ${shown} holds a NUL character, which Postgres cannot store; choose a name without it`;
  }
  if (schema.startsWith("pg_")) {
    return `schema name ${shown} starts with "pg_", which Postgres reserves for its own schemas; choose another name (e.g. ${JSON.stringify(`conclave_${schema.slice(3) || "store"}`)})`;
  }
  return undefined;
}
