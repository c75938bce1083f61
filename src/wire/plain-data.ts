/**
 * The check on what a handler hands over to be kept or sent: its result and
 * its effects' data must be plain JSON data, as an envelope body must be.
 */
import { InvalidEnvelopeError, NotJsonError } from "../errors/index.js";
import { ENVELOPE_MAX_DEPTH } from "./envelope.js";
import { assertJsonValue } from "./json-value.js";

/**
 * Checks that `value` is plain JSON data (`undefined` passes: no value).
 * What `JSON.stringify` would drop or change (a function, a symbol, NaN, a
 * Date) is refused instead of being stored or sent as something else.
 *
 * @param what how the message names the value, e.g. `"the handler's result"`.
 * @param root how paths inside it start, e.g. `"result"` for `result.items[2]`.
 * @throws NotJsonError naming the path of the first offending value.
 */
export function assertPlainData(value: unknown, what: string, root: string): void {
  if (value === undefined || value === null) return;
  try {
    // One level below an envelope's top, where a result travels as the body.
    assertJsonValue(value, { maxDepth: ENVELOPE_MAX_DEPTH - 1, root });
  } catch (error) {
    if (!(error instanceof InvalidEnvelopeError)) throw error;
    const why = error.message.replace(/^invalid envelope: /, "");
    throw new NotJsonError(`${what} must be plain JSON data: ${why}`);
  }
}
