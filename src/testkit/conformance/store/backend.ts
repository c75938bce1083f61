/**
 * What every part of the store conformance suite shares: the backend an
 * adapter's test supplies, the options of a part, and the fixture that
 * opens a fresh store before a part's scenarios and removes it after.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe } from "node:test";
import { ClosedError } from "../../../errors/index.js";

/** Every handle under test can be closed; the parts type the rest by role. */
export interface Closable {
  close(): Promise<void>;
}

/** A fresh, empty store of the adapter under test. */
export interface StoreBackend<S extends Closable> {
  readonly store: S;
  /** Another handle on the same data (a separate connection or pool, as a second process would have). */
  reopen(): Promise<S>;
  /** Releases everything the backend created (files, schema). Called after `store` is closed. */
  destroy(): Promise<void>;
  /**
   * Records a migration this build does not know, as a newer conclave
   * would, and returns a function that removes it again. Without it the
   * newer-schema scenario is skipped.
   */
  simulateNewerSchema?(): Promise<() => Promise<void>>;
}

/** Options of one part of the suite, for a store that implements that part's role. */
export interface StorePartOptions<S extends Closable> {
  /** Names the adapter in every test title, e.g. `"postgres"`. */
  readonly name: string;
  /** A fresh, empty store; each part creates its own and destroys it after. */
  readonly create: () => Promise<StoreBackend<S>>;
  /** When set, the part is skipped with this reason (e.g. no server to test against). */
  readonly skip?: string;
}

/** The part's store, live: a scenario may close it and put a reopened handle in its place. */
export interface StoreFixture<S extends Closable> {
  store: S;
  reopen(): Promise<S>;
  readonly simulateNewerSchema: (() => Promise<() => Promise<void>>) | undefined;
}

/**
 * Declares one part: a `describe` titled `<adapter>: <what> conformance`,
 * skipped with the options' reason, whose scenarios share one fresh store.
 */
export function describeStorePart<S extends Closable>(
  what: string,
  options: StorePartOptions<S>,
  scenarios: (fixture: StoreFixture<S>) => void,
): void {
  describe(`${options.name}: ${what} conformance`, { skip: options.skip ?? false }, () => {
    let backend: StoreBackend<S> | undefined;
    const fixture: StoreFixture<S> = {
      store: undefined as unknown as S,
      reopen: () => (backend as StoreBackend<S>).reopen(),
      get simulateNewerSchema() {
        return backend?.simulateNewerSchema?.bind(backend);
      },
    };
    before(async () => {
      backend = await options.create();
      fixture.store = backend.store;
    });
    after(async () => {
      if (!backend) return;
      await fixture.store.close();
      await backend.destroy();
    });
    scenarios(fixture);
  });
}

/** A fresh id: the scenarios of a part share one store, so nothing they write may collide. */
export const id = () => randomBytes(8).toString("hex");
export const bytes = (s: string) => new TextEncoder().encode(s);

/**
 * Opens another handle, closes it twice (`close()` is idempotent), then
 * checks that each call on it rejects with `ClosedError`; `calls` is keyed
 * by method name so a failure names the method.
 */
export async function assertClosedHandleRefuses<S extends Closable>(
  fixture: StoreFixture<S>,
  calls: Readonly<Record<string, (store: S) => Promise<unknown>>>,
): Promise<void> {
  const other = await fixture.reopen();
  await other.close();
  await other.close();
  for (const [method, call] of Object.entries(calls)) {
    await assert.rejects(call(other), ClosedError, `${method} on a closed handle`);
  }
}
