/**
 * A reading command pointed at a Postgres database that does not exist is
 * told there is no store there (`StoreNotFoundError`, exit 2 in the CLI),
 * as for a missing SQLite file or schema. It got a generic StoreError
 * ending "check … that the user may create the schema".
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreNotFoundError } from "../../src/errors/index.js";
import { openStore } from "../../src/store/open-store.js";
import { postgresUnreachable, postgresUrl } from "./ledger-backends.js";

const unreachable = await postgresUnreachable();
const skip = unreachable !== undefined && process.env["CI"] !== "true" ? unreachable : undefined;

test("opening a missing database to read is StoreNotFoundError", {
  ...(skip === undefined ? {} : { skip }),
}, async () => {
  if (unreachable !== undefined) throw new Error(`${unreachable}; CI must provide it`);
  const url = postgresUrl.replace(/\/[^/?]+(\?|$)/, "/conclave_no_such_db_4711$1");
  await assert.rejects(
    openStore(url, { create: false }),
    (e: unknown) => e instanceof StoreNotFoundError && /database does not exist/.test(e.message),
  );
});
