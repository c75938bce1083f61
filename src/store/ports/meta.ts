/**
 * `MetaStore`: a few named strings that describe the run and must outlive
 * the process, such as the head of the consensus audit chain
 * (`consensus.head`). Not a general key-value store: values are small and
 * written rarely.
 *
 * Contract (checked by `src/testkit/conformance/store/meta.ts`): `setMeta`
 * replaces the value (last write wins); a key never set reads `undefined`;
 * values survive closing and reopening the store.
 */
export interface MetaStore {
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
}
