/**
 * Refusing JSON texts that repeat a key within one object. `JSON.parse`
 * keeps the last value; other readers keep the first or refuse. A signed
 * envelope read two ways is two messages under one signature, so conclave
 * accepts neither (PROTOCOL.md, "Receiving").
 *
 * The check is cheap when there is nothing to find: the keys of the parsed
 * value are counted against the `"…":` tokens of the text; only when they
 * differ (a duplicate, or a string value that contains `":`) is the text
 * scanned exactly.
 */

/** The first key repeated within one object of `text` (valid JSON), or undefined. */
export function duplicateKey(text: string, parsed: unknown): string | undefined {
  if (keyTokens(text) === countKeys(parsed)) return undefined;
  return scanForDuplicate(text);
}

const KEY_TOKEN = /"\s*:/g;

function keyTokens(text: string): number {
  let n = 0;
  KEY_TOKEN.lastIndex = 0;
  while (KEY_TOKEN.exec(text) !== null) n++;
  return n;
}

function countKeys(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (const item of value) n += countKeys(item);
    return n;
  }
  for (const key in value) {
    n += 1 + countKeys((value as Record<string, unknown>)[key]);
  }
  return n;
}

/** An exact scan of valid JSON: strings decoded, keys tracked per open object. */
function scanForDuplicate(text: string): string | undefined {
  // One entry per open container: the keys seen so far (objects) or null (arrays).
  const open: (Set<string> | null)[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "{") {
      open.push(new Set());
      i++;
    } else if (c === "[") {
      open.push(null);
      i++;
    } else if (c === "}" || c === "]") {
      open.pop();
      i++;
    } else if (c === '"') {
      const end = stringEnd(text, i);
      let j = end;
      while (j < text.length && /\s/.test(text[j] as string)) j++;
      const keys = open.at(-1);
      if (text[j] === ":" && keys) {
        const key = JSON.parse(text.slice(i, end)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      i = end;
    } else {
      i++;
    }
  }
  return undefined;
}

/** The index just past the string literal starting at `start` (a `"`). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\") i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  return i;
}
