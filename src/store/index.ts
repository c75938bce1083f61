export { auditHash, verifyAuditChain } from "./audit-chain.js";
export {
  type OpenStoreOptions,
  openStore,
  parseStoreUrl,
  type StoreLocation,
} from "./open-store.js";
export * from "./port.js";
export {
  dropPostgresSchema,
  openPostgresStore,
  PostgresStore,
  type PostgresStoreConfig,
  type PostgresTlsOptions,
} from "./postgres-store.js";
export { openSqliteStore, SqliteStore, type SqliteStoreConfig } from "./sqlite-store.js";
