import { InvalidSubjectError } from "../errors/index.js";

/**
 * Subjects are dot-separated tokens: `swarm.task.developer.code`. Patterns may
 * use `*` for exactly one token and `>` as the last token for one or more
 * remaining tokens (NATS semantics; the AMQP adapter maps them to `*` and `#`).
 */

const TOKEN = /^[A-Za-z0-9_\-:$]+$/;
const MAX_SUBJECT_LENGTH = 512;

/** Throws `InvalidSubjectError` unless `subject` is a concrete subject (no wildcards). */
export function assertSubject(subject: string): void {
  checkTokens(subject, false);
}

/** Throws `InvalidSubjectError` unless `pattern` is a valid subject or wildcard pattern. */
export function assertPattern(pattern: string): void {
  checkTokens(pattern, true);
}

function checkTokens(subject: string, wildcards: boolean): void {
  if (typeof subject !== "string" || subject.length === 0) {
    throw new InvalidSubjectError(String(subject), "it is empty");
  }
  if (subject.length > MAX_SUBJECT_LENGTH) {
    throw new InvalidSubjectError(subject, `it is longer than ${MAX_SUBJECT_LENGTH} characters`);
  }
  const tokens = subject.split(".");
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (wildcards && token === "*") continue;
    if (wildcards && token === ">") {
      if (i !== tokens.length - 1) {
        throw new InvalidSubjectError(subject, "'>' may only be the last token");
      }
      continue;
    }
    if (!TOKEN.test(token)) {
      const reason =
        token === "*" || token === ">"
          ? "wildcards are only allowed in subscriptions and queue filters"
          : token.length === 0
            ? "it has an empty token (two dots in a row, or a leading/trailing dot)"
            : `token "${token}" may only contain letters, digits, '_', '-', ':' and '$'`;
      throw new InvalidSubjectError(subject, reason);
    }
  }
}

/** True when the concrete `subject` matches `pattern`. Both must be valid. */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === ">") return s.length > i;
    if (i >= s.length) return false;
    if (token !== "*" && token !== s[i]) return false;
  }
  return p.length === s.length;
}

interface TrieNode<T> {
  children: Map<string, TrieNode<T>>;
  /** Entries whose pattern ends at this node. */
  here: Set<T>;
  /** Entries whose pattern has `>` at this position. */
  rest: Set<T>;
}

function node<T>(): TrieNode<T> {
  return { children: new Map(), here: new Set(), rest: new Set() };
}

/**
 * An index from patterns to entries that answers "which entries match this
 * subject" fast. Lookups are cached per subject; the cache is cleared on any
 * change, which suits a bus where subscriptions change rarely and publishes
 * are hot.
 */
export class SubjectIndex<T> {
  #root: TrieNode<T> = node();
  #cache = new Map<string, readonly T[]>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(pattern: string, entry: T): void {
    let current = this.#root;
    for (const token of pattern.split(".")) {
      if (token === ">") {
        current.rest.add(entry);
        this.#changed(1);
        return;
      }
      let next = current.children.get(token);
      if (!next) {
        next = node();
        current.children.set(token, next);
      }
      current = next;
    }
    current.here.add(entry);
    this.#changed(1);
  }

  remove(pattern: string, entry: T): void {
    const path: [TrieNode<T>, string][] = [];
    let current = this.#root;
    for (const token of pattern.split(".")) {
      if (token === ">") {
        if (current.rest.delete(entry)) this.#changed(-1);
        this.#prune(path, current);
        return;
      }
      const next = current.children.get(token);
      if (!next) return;
      path.push([current, token]);
      current = next;
    }
    if (current.here.delete(entry)) this.#changed(-1);
    this.#prune(path, current);
  }

  /** Entries matching `subject`, in no particular order. The array must not be mutated. */
  match(subject: string): readonly T[] {
    const cached = this.#cache.get(subject);
    if (cached) return cached;
    const out = new Set<T>();
    this.#collect(this.#root, subject.split("."), 0, out);
    const result = [...out];
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(subject, result);
    return result;
  }

  #collect(at: TrieNode<T>, tokens: string[], i: number, out: Set<T>): void {
    if (i === tokens.length) {
      for (const e of at.here) out.add(e);
      return;
    }
    for (const e of at.rest) out.add(e);
    const exact = at.children.get(tokens[i] as string);
    if (exact) this.#collect(exact, tokens, i + 1, out);
    const star = at.children.get("*");
    if (star) this.#collect(star, tokens, i + 1, out);
  }

  #changed(delta: number): void {
    this.#size += delta;
    this.#cache.clear();
  }

  #prune(path: [TrieNode<T>, string][], leaf: TrieNode<T>): void {
    let child = leaf;
    for (let i = path.length - 1; i >= 0; i--) {
      if (child.children.size > 0 || child.here.size > 0 || child.rest.size > 0) return;
      const [parent, token] = path[i] as [TrieNode<T>, string];
      parent.children.delete(token);
      child = parent;
    }
  }
}
