// One socket-holding prober per source address, shared by every checker that probes from it.

interface Counted {
  acquire(): void;
  release(): void;
  readonly users: number;
}

export class SharedBySource<Source, Item extends Counted> {
  readonly #items = new Map<string, Item>();
  readonly #create: (source: Source) => Item;

  constructor(create: (source: Source) => Item) {
    this.#create = create;
  }

  /** The shared item for a source; each acquire is paired with one `release`. */
  acquire(source: Source): Item {
    const key = JSON.stringify(source);
    let item = this.#items.get(key);
    if (item === undefined) {
      item = this.#create(source);
      this.#items.set(key, item);
    }
    item.acquire();
    return item;
  }

  release(source: Source, item: Item): void {
    item.release();
    if (item.users === 0) this.#items.delete(JSON.stringify(source));
  }
}
