/**
 * A min-heap of deadlines for the ordering buffers. Internal to `delivery/`.
 *
 * Entries are never updated in place: a caller that moves a deadline pushes a
 * new entry and recognises the old one as stale when it surfaces. That keeps
 * every operation O(log n) without an index from key to heap slot. Ties are
 * broken by insertion order so that a protocol run replays identically.
 */
export class DeadlineQueue<K> {
  #heap: QueueEntry<K>[] = [];
  #inserted = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(at: number, key: K): void {
    this.#heap.push({ at, order: this.#inserted++, key });
    this.#up(this.#heap.length - 1);
  }

  peek(): { readonly at: number; readonly key: K } | undefined {
    return this.#heap[0];
  }

  pop(): { readonly at: number; readonly key: K } | undefined {
    const top = this.#heap[0];
    const last = this.#heap.pop();
    if (top !== undefined && last !== undefined && this.#heap.length > 0) {
      this.#heap[0] = last;
      this.#down(0);
    }
    return top;
  }

  /** Drops every entry `keep` rejects; for shedding stale entries in bulk. */
  retain(keep: (key: K) => boolean): void {
    this.#heap = this.#heap.filter((entry) => keep(entry.key));
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #less(a: QueueEntry<K>, b: QueueEntry<K>): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  #up(index: number): void {
    const heap = this.#heap;
    let child = index;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      const c = heap[child]!;
      const p = heap[parent]!;
      if (!this.#less(c, p)) return;
      heap[child] = p;
      heap[parent] = c;
      child = parent;
    }
  }

  #down(index: number): void {
    const heap = this.#heap;
    let parent = index;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < heap.length && this.#less(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.#less(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === parent) return;
      const p = heap[parent]!;
      heap[parent] = heap[smallest]!;
      heap[smallest] = p;
      parent = smallest;
    }
  }
}

interface QueueEntry<K> {
  readonly at: number;
  readonly order: number;
  readonly key: K;
}
