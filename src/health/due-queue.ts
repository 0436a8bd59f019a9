/**
 * One place in a DueQueue, kept by its owner and moved or removed instead of pushed again: a
 * checker has one for its whole life, so a run allocates nothing here and no stale entry waits
 * in the queue (at 5000 checkers, entries living a delay_loop each were promoted to the old
 * generation only to die there).
 */
export interface DueEntry<T> {
  readonly value: T;
  /** When it is due; read-only outside the queue. */
  at: number;
  /** Insertion order among equal due times. */
  seq: number;
  /** Position in the heap, -1 when not queued. */
  index: number;
}

/** A binary min-heap of entries by due time; ties leave in insertion order so equal due times stay fair. */
export class DueQueue<T> {
  readonly #heap: Array<DueEntry<T>> = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  /** A new entry, not yet queued. */
  entry(value: T): DueEntry<T> {
    return { value, at: 0, seq: 0, index: -1 };
  }

  /** A new entry, queued at `at`. */
  push(at: number, value: T): DueEntry<T> {
    const entry = this.entry(value);
    this.set(entry, at);
    return entry;
  }

  /** Queues `entry` at `at`, or moves it there if it is queued; either way it goes after the others due then. */
  set(entry: DueEntry<T>, at: number): void {
    entry.at = at;
    entry.seq = this.#seq++;
    if (entry.index < 0) {
      entry.index = this.#heap.length;
      this.#heap.push(entry);
    }
    this.#down(this.#up(entry.index));
  }

  /** Takes `entry` out if it is queued. */
  remove(entry: DueEntry<T>): void {
    const i = entry.index;
    if (i < 0) return;
    entry.index = -1;
    const last = this.#heap.pop()!;
    if (last === entry) return;
    this.#place(last, i);
    this.#down(this.#up(i));
  }

  peekAt(): number | undefined {
    return this.#heap[0]?.at;
  }

  /** Removes and returns the earliest entry if it is due at or before `now`. */
  popDue(now: number): DueEntry<T> | undefined {
    const top = this.#heap[0];
    if (top === undefined || top.at > now) return undefined;
    this.remove(top);
    return top;
  }

  #less(x: DueEntry<T>, y: DueEntry<T>): boolean {
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }

  #place(entry: DueEntry<T>, i: number): void {
    this.#heap[i] = entry;
    entry.index = i;
  }

  #up(i: number): number {
    const heap = this.#heap;
    const entry = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(entry, heap[parent]!)) break;
      this.#place(heap[parent]!, i);
      i = parent;
    }
    this.#place(entry, i);
    return i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const entry = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const child = r < heap.length && this.#less(heap[r]!, heap[l]!) ? r : l;
      if (!this.#less(heap[child]!, entry)) break;
      this.#place(heap[child]!, i);
      i = child;
    }
    this.#place(entry, i);
  }
}
