/**
 * The simulator's pending events: a binary min-heap over a pool of slots held
 * in typed arrays, so scheduling a message allocates nothing once the pool has
 * grown to the run's high-water mark. Ties in time break by scheduling order
 * (FIFO), which keeps runs deterministic and intuitive: two messages sent at
 * the same instant with the same latency arrive in the order they were sent.
 *
 * @internal
 */
export class EventQueue<P> {
  time = new Float64Array(1024);
  order = new Float64Array(1024);
  kind = new Uint8Array(1024);
  from = new Int32Array(1024);
  to = new Int32Array(1024);
  payload: (P | undefined)[] = new Array<P | undefined>(1024);
  #heap = new Int32Array(1024);
  #size = 0;
  #free = new Int32Array(1024);
  #freeCount = 0;
  #capacity = 0;
  #counter = 0;

  get size(): number {
    return this.#size;
  }

  /** Schedules an event; returns its slot, valid until {@link release}. */
  push(time: number, kind: number, from: number, to: number, payload: P | undefined): number {
    const slot = this.#allocate();
    this.time[slot] = time;
    this.order[slot] = this.#counter++;
    this.kind[slot] = kind;
    this.from[slot] = from;
    this.to[slot] = to;
    this.payload[slot] = payload;
    this.#siftUp(this.#size++, slot);
    return slot;
  }

  /** The slot of the earliest event, or -1. */
  peek(): number {
    return this.#size === 0 ? -1 : (this.#heap[0] as number);
  }

  /** Removes the earliest event and returns its slot (read it, then {@link release} it), or -1. */
  pop(): number {
    if (this.#size === 0) return -1;
    const heap = this.#heap;
    const top = heap[0] as number;
    const last = heap[--this.#size] as number;
    if (this.#size > 0) this.#siftDown(0, last);
    return top;
  }

  /** Returns a popped slot to the pool. */
  release(slot: number): void {
    this.payload[slot] = undefined;
    this.#free[this.#freeCount++] = slot;
  }

  #less(a: number, b: number): boolean {
    const ta = this.time[a] as number;
    const tb = this.time[b] as number;
    return ta < tb || (ta === tb && (this.order[a] as number) < (this.order[b] as number));
  }

  #siftUp(index: number, slot: number): void {
    const heap = this.#heap;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as number;
      if (!this.#less(slot, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = slot;
  }

  #siftDown(index: number, slot: number): void {
    const heap = this.#heap;
    const size = this.#size;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      const right = left + 1;
      let child = heap[left] as number;
      let childIndex = left;
      if (right < size) {
        const r = heap[right] as number;
        if (this.#less(r, child)) {
          child = r;
          childIndex = right;
        }
      }
      if (!this.#less(child, slot)) break;
      heap[i] = child;
      i = childIndex;
    }
    heap[i] = slot;
  }

  #allocate(): number {
    if (this.#freeCount > 0) return this.#free[--this.#freeCount] as number;
    if (this.#capacity === this.time.length) this.#grow();
    return this.#capacity++;
  }

  #grow(): void {
    const size = this.time.length * 2;
    const grow64 = (a: Float64Array) => {
      const b = new Float64Array(size);
      b.set(a);
      return b;
    };
    const grow32 = (a: Int32Array) => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.time = grow64(this.time);
    this.order = grow64(this.order);
    const kind = new Uint8Array(size);
    kind.set(this.kind);
    this.kind = kind;
    this.from = grow32(this.from);
    this.to = grow32(this.to);
    this.#heap = grow32(this.#heap);
    this.#free = grow32(this.#free);
    this.payload.length = size;
  }
}
