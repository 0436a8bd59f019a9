// The table the daemon wants and the one queue through which every reconcile pass runs, so passes
// never overlap. Health changes waiting in the queue merge into one scoped pass; after a pass
// that threw, the next one re-reads the kernel.
import { serviceKey, type ServiceEntry } from '../ipvs/model.js';
import type { Reconciler, ReconcileReport } from '../ipvs/reconciler.js';

export class KernelTable {
  readonly #reconciler: Reconciler;
  readonly #onError: (pass: 'update' | 'sync', err: unknown) => void;
  #desired = new Map<string, ServiceEntry>();
  #queue: Promise<unknown> = Promise.resolve();
  #pendingScope: Set<string> | undefined;
  #pendingUpdate: Promise<ReconcileReport | undefined> | undefined;
  #doubt = false;

  constructor(reconciler: Reconciler, onError: (pass: 'update' | 'sync', err: unknown) => void) {
    this.#reconciler = reconciler;
    this.#onError = onError;
  }

  get desired(): ReadonlyMap<string, ServiceEntry> {
    return this.#desired;
  }

  /** A new configuration's whole table. */
  replace(table: Map<string, ServiceEntry>): void {
    this.#desired = table;
  }

  /** One virtual server's services, recomputed after a health change. */
  set(entries: readonly ServiceEntry[]): void {
    for (const entry of entries) this.#desired.set(serviceKey(entry.service), entry);
  }

  /** A fast pass over `keys`, merged with any update still waiting for its turn. */
  update(keys: Iterable<string>): Promise<ReconcileReport | undefined> {
    if (this.#pendingScope && this.#pendingUpdate) {
      for (const k of keys) this.#pendingScope.add(k);
      return this.#pendingUpdate;
    }
    const scope = new Set(keys);
    this.#pendingScope = scope;
    this.#pendingUpdate = this.#enqueue('update', () => {
      this.#pendingScope = undefined;
      this.#pendingUpdate = undefined;
      return this.#doubt ? this.#reconciler.sync(this.#desired) : this.#reconciler.update(this.#desired, scope);
    });
    return this.#pendingUpdate;
  }

  /** A full pass: read the kernel and repair every difference in what ipvsd owns. */
  sync(): Promise<ReconcileReport | undefined> {
    return this.#enqueue('sync', () => this.#reconciler.sync(this.#desired));
  }

  /** Runs `job` after every pass queued before it (for stop: nothing may run after the cleanup). */
  after<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(job);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #enqueue(pass: 'update' | 'sync', job: () => Promise<ReconcileReport>): Promise<ReconcileReport | undefined> {
    return this.after(async () => {
      try {
        const report = await job();
        this.#doubt = false;
        return report;
      } catch (err) {
        this.#doubt = true;
        this.#onError(pass, err);
        return undefined;
      }
    });
  }
}
