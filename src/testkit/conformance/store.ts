/**
 * The one conformance suite every `Store` adapter passes: one part per role
 * port (`./store/*.ts`) plus the lifecycle. An adapter of the whole port
 * runs every part with a single call:
 *
 * ```ts
 * runStoreConformance({ name: "sqlite", create: async () => ({ store, reopen, destroy }) });
 * ```
 *
 * A store that implements only some roles runs exactly those parts, each
 * with the same options typed on its role, e.g.
 * `runTaskStoreConformance({ name: "redis", create })` and
 * `runIdempotencyStoreConformance({ name: "redis", create })`. Every part
 * opens its own fresh store (`create`) and destroys it after.
 */
import type { Store } from "../../store/port.js";
import { runAuditStoreConformance } from "./store/audit.js";
import type { StorePartOptions } from "./store/backend.js";
import { runDeadLetterStoreConformance } from "./store/dead-letters.js";
import { runIdempotencyStoreConformance } from "./store/idempotency.js";
import { runLedgerStoreConformance } from "./store/ledger.js";
import { runStoreLifecycleConformance } from "./store/lifecycle.js";
import { runMarketStoreConformance } from "./store/market.js";
import { runMetaStoreConformance } from "./store/meta.js";
import { runRegistryStoreConformance } from "./store/registry.js";
import { runStepStoreConformance } from "./store/steps.js";
import { runTaskClaimStoreConformance } from "./store/task-claims.js";
import { runTaskStoreConformance } from "./store/tasks.js";

export { runAuditStoreConformance } from "./store/audit.js";
export type {
  Closable,
  StoreBackend,
  StoreFixture,
  StorePartOptions,
} from "./store/backend.js";
export { runDeadLetterStoreConformance } from "./store/dead-letters.js";
export { runIdempotencyStoreConformance } from "./store/idempotency.js";
export { runLedgerStoreConformance } from "./store/ledger.js";
export { runStoreLifecycleConformance, type StoreLifecycle } from "./store/lifecycle.js";
export { runMarketStoreConformance } from "./store/market.js";
export { runMetaStoreConformance } from "./store/meta.js";
export { runRegistryStoreConformance } from "./store/registry.js";
export { runStepStoreConformance } from "./store/steps.js";
export { runTaskClaimStoreConformance } from "./store/task-claims.js";
export { runTaskStoreConformance } from "./store/tasks.js";

/** Every part of the suite by name, in the order `runStoreConformance` runs them. */
export const storeConformanceParts = Object.freeze({
  tasks: runTaskStoreConformance,
  deadLetters: runDeadLetterStoreConformance,
  meta: runMetaStoreConformance,
  audit: runAuditStoreConformance,
  registry: runRegistryStoreConformance,
  idempotency: runIdempotencyStoreConformance,
  ledger: runLedgerStoreConformance,
  market: runMarketStoreConformance,
  steps: runStepStoreConformance,
  taskClaims: runTaskClaimStoreConformance,
  lifecycle: runStoreLifecycleConformance,
});

/** The name of one part of the store suite (`tasks`, `ledger`, ...). */
export type StoreConformancePart = keyof typeof storeConformanceParts;

/** What an adapter can promise, for the parts it cannot. */
export interface StoreFeatures {
  /**
   * Parts the adapter does not implement, each with the reason: they are
   * reported as skipped with it. Default: every part runs.
   */
  readonly without?: Partial<Record<StoreConformancePart, string>>;
}

/** How to run the whole store suite against one adapter. */
export interface StoreConformanceOptions extends StorePartOptions<Store> {
  readonly features?: StoreFeatures;
}

/** Runs every part of the suite against an adapter of the whole `Store` port. */
export function runStoreConformance(options: StoreConformanceOptions): void {
  for (const [part, run] of Object.entries(storeConformanceParts)) {
    const skip = options.skip ?? options.features?.without?.[part as StoreConformancePart];
    run({ name: options.name, create: options.create, ...(skip === undefined ? {} : { skip }) });
  }
}
