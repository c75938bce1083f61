import { DeadLetterHeaders, type Headers } from "../port.js";

/**
 * The bytes `headers` take on the wire as the driver encodes them:
 * `NATS/1.0`, then `\r\n<key>: <value>` per header, then `\r\n\r\n`.
 */
export function encodedHeadersSize(headers: Headers): number {
  const entries = Object.entries(headers);
  if (entries.length === 0) return 0;
  let size = 12;
  for (const [key, value] of entries) {
    size += 4 + Buffer.byteLength(key) + Buffer.byteLength(value.trim());
  }
  return size;
}

/** What a shortened reason ends with. */
const SHORTENED = "…";
/** A reason is not shortened below this many bytes before optional headers are dropped. */
const MIN_REASON_BYTES = 96;

/**
 * The headers of a dead letter, trimmed so that it fits the server's
 * `max_payload` with its data and `extra` (the publish's own headers, kept
 * whole). A message that fit when it was enqueued may not once dead-letter
 * headers are added; refused, it could never be dead-lettered and came back
 * forever. Trimmed in this order, only as far as needed: the original's own
 * headers (not conclave's) are dropped; the reason is shortened; the
 * `optional` conclave headers are dropped one by one; the reason is
 * shortened to its marker. What does not fit even so is returned as it then
 * is (the publish fails with `PayloadTooLargeError`).
 */
export function fitDeadLetter(
  dataBytes: number,
  headers: Headers,
  extra: Headers,
  maxPayload: number | undefined,
  optional: readonly string[],
): Headers {
  if (maxPayload === undefined) return headers;
  const limit = maxPayload;
  const over = (h: Headers) => dataBytes + encodedHeadersSize({ ...h, ...extra }) - limit;
  if (over(headers) <= 0) return headers;
  const fitted: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith("conclave-")) fitted[key] = value;
  }
  const reasonKey = DeadLetterHeaders.reason;
  const shorten = (floor: number) => {
    const excess = over(fitted);
    const reason = fitted[reasonKey];
    if (excess <= 0 || reason === undefined) return;
    const bytes = Buffer.byteLength(reason);
    const keep = Math.max(floor, bytes - excess - Buffer.byteLength(SHORTENED));
    if (keep < bytes) fitted[reasonKey] = truncateUtf8(reason, keep) + SHORTENED;
  };
  shorten(MIN_REASON_BYTES);
  for (const key of optional) {
    if (over(fitted) <= 0) break;
    delete fitted[key];
  }
  shorten(0);
  return fitted;
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes, whole characters only. */
function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end).trimEnd();
}
