// Keeps the kernel's IPVS table equal to the desired one, for the services ipvsd owns.
// A full pass reads the kernel; a fast pass trusts what the last pass left, and any doubt
// (a refused operation, an unreadable service) sends the next pass back to the kernel.
import type { ApplyFailure, ApplyOptions, ObservedEntry } from './client.js';
import { diffTables, type KernelEntry } from './diff.js';
import { destinationKey, serviceKey, type Destination, type ServiceEntry } from './model.js';
import type { IpvsOperation } from './operations.js';

/** The part of IpvsClient the reconciler needs (an interface so tests can give a recorded kernel). */
export interface IpvsTable {
  table(): Promise<ObservedEntry[]>;
  apply(operations: readonly IpvsOperation[], options?: ApplyOptions): Promise<ApplyFailure[]>;
}

export interface ReconcileReport {
  /** The kernel was read for this pass. */
  read: boolean;
  operations: IpvsOperation[];
  failures: ApplyFailure[];
  /** Services left alone because the kernel state for them was unknown. */
  unknown: string[];
  durationMs: number;
}

export interface ReconcilerOptions {
  /** Services a previous run owned (so a restart can still remove what a new config dropped). */
  owned?: Iterable<string>;
  /**
   * Called with the owned set whenever it changes: grown before the operations that add services
   * are sent (so a crash never leaves an added service unrecorded), shrunk after removals.
   */
  onOwnedChange?: (owned: ReadonlySet<string>) => void;
  apply?: ApplyOptions;
  now?: () => number;
}

export type DesiredTable = ReadonlyMap<string, ServiceEntry>;

export class Reconciler {
  private known: Map<string, KernelEntry> | undefined;
  private readonly owned: Set<string>;
  private readonly now: () => number;

  constructor(
    private readonly kernel: IpvsTable,
    private readonly options: ReconcilerOptions = {},
  ) {
    this.owned = new Set(options.owned);
    this.now = options.now ?? (() => performance.now());
  }

  get ownedServices(): ReadonlySet<string> {
    return this.owned;
  }

  /** Reads the kernel and returns what a pass would do, without doing it. */
  async plan(desired: DesiredTable): Promise<IpvsOperation[]> {
    const kernel = await this.read();
    return diffTables({ desired, kernel, owned: this.ownedFor(desired) }).operations;
  }

  /** Full pass: read the kernel table, then apply the difference. */
  async sync(desired: DesiredTable): Promise<ReconcileReport> {
    const started = this.now();
    this.known = undefined;
    const kernel = await this.read();
    return this.pass(desired, kernel, undefined, true, started);
  }

  /**
   * Fast pass against what the last pass left in the kernel, limited to `scope` when the caller
   * knows which services changed. Falls back to a full pass when that knowledge is gone.
   */
  async update(desired: DesiredTable, scope?: Iterable<string>): Promise<ReconcileReport> {
    if (!this.known) return this.sync(desired);
    return this.pass(desired, this.known, scope, false, this.now());
  }

  private async read(): Promise<Map<string, KernelEntry>> {
    // A failed read throws: the table is unknown, and nothing is planned from it.
    const entries = await this.kernel.table();
    return new Map(
      entries.map((e) => [
        serviceKey(e.service),
        {
          service: e.service,
          destinations: e.destinations && new Map(e.destinations.map((d) => [destinationKey(d), d])),
        },
      ]),
    );
  }

  private ownedFor(desired: DesiredTable): Set<string> {
    return new Set([...this.owned, ...desired.keys()]);
  }

  private async pass(
    desired: DesiredTable,
    kernel: Map<string, KernelEntry>,
    scope: Iterable<string> | undefined,
    read: boolean,
    started: number,
  ): Promise<ReconcileReport> {
    const before = this.owned.size;
    for (const key of desired.keys()) this.owned.add(key);
    if (this.owned.size !== before) this.options.onOwnedChange?.(this.owned);
    const { operations, unknown } = diffTables({ desired, kernel, owned: this.owned, ...(scope ? { scope } : {}) });
    const failures = operations.length > 0 ? await this.kernel.apply(operations, this.options.apply) : [];

    const failed = new Set(failures.map((f) => f.operation));
    for (const op of operations) {
      if (!failed.has(op)) applyToKnown(kernel, op);
    }
    // What we own from now on: every desired service, and any owned one whose removal failed.
    const owned = this.owned.size;
    for (const key of [...this.owned]) if (!desired.has(key) && !kernel.has(key)) this.owned.delete(key);
    if (this.owned.size !== owned) this.options.onOwnedChange?.(this.owned);

    this.known = failures.length === 0 && unknown.length === 0 ? kernel : undefined;
    return { read, operations, failures, unknown, durationMs: this.now() - started };
  }
}

/** Records a successful operation in our picture of the kernel. */
function applyToKnown(kernel: Map<string, KernelEntry>, op: IpvsOperation): void {
  const key = serviceKey(op.service);
  switch (op.kind) {
    case 'add-service':
      kernel.set(key, { service: op.service, destinations: new Map() });
      return;
    case 'update-service':
      kernel.set(key, { service: op.service, destinations: kernel.get(key)?.destinations });
      return;
    case 'remove-service':
      kernel.delete(key);
      return;
    default: {
      // Our own maps, created above or in read(): safe to change in place.
      const destinations = kernel.get(key)?.destinations as Map<string, Destination> | undefined;
      if (!destinations) return;
      if (op.kind === 'remove-destination') destinations.delete(destinationKey(op.destination));
      else destinations.set(destinationKey(op.destination), op.destination);
    }
  }
}
