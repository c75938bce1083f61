export * from "./port.js";
export { openSqliteStore, SqliteStore, type SqliteStoreConfig } from "./sqlite-store.js";
