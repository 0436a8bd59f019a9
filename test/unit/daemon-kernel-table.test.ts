// KernelTable: one reconcile pass at a time, waiting updates merged, a re-read after a pass that threw.
import { describe, expect, it } from 'vitest';
import type { ApplyFailure, ObservedEntry } from '../../src/ipvs/client.js';
import { destination, service, serviceKey, type ServiceEntry } from '../../src/ipvs/model.js';
import type { IpvsOperation } from '../../src/ipvs/operations.js';
import { Reconciler, type IpvsTable } from '../../src/ipvs/reconciler.js';
import { KernelTable } from '../../src/daemon/kernel-table.js';

/** A kernel that records calls and lets each apply be released by hand. */
class GatedKernel implements IpvsTable {
  reads = 0;
  applies: IpvsOperation[][] = [];
  inFlight = 0;
  maxInFlight = 0;
  failNextRead = false;
  gate: Promise<void> = Promise.resolve();

  async table(): Promise<ObservedEntry[]> {
    this.reads++;
    if (this.failNextRead) {
      this.failNextRead = false;
      throw new Error('dump interrupted');
    }
    return [];
  }

  async apply(operations: readonly IpvsOperation[]): Promise<ApplyFailure[]> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.applies.push([...operations]);
    await this.gate;
    this.inFlight--;
    return [];
  }
}

const entry = (n: number, weight = 1): ServiceEntry => ({
  service: service({ address: `10.0.0.${n}`, port: 80, scheduler: 'rr' }),
  destinations: [destination({ address: `10.0.1.${n}`, port: 80, weight })],
});
const key = (n: number) => serviceKey(entry(n).service);

describe('KernelTable', () => {
  it('runs passes one at a time and merges updates that wait behind a running pass', async () => {
    const kernel = new GatedKernel();
    const errors: unknown[] = [];
    const table = new KernelTable(new Reconciler(kernel), (_pass, err) => errors.push(err));
    table.replace(new Map([1, 2, 3].map((n) => [key(n), entry(n)])));
    let release!: () => void;
    kernel.gate = new Promise((r) => (release = r));
    const first = table.sync();
    // The full pass has planned and is waiting on the kernel when the health changes arrive.
    while (kernel.applies.length === 0) await Promise.resolve();
    table.set([entry(2, 5)]);
    const a = table.update([key(2)]);
    table.set([entry(3, 7)]);
    const b = table.update([key(3)]);
    expect(a).toBe(b);
    release();
    await first;
    const merged = await a;
    expect(kernel.maxInFlight).toBe(1);
    expect(kernel.reads).toBe(1);
    expect(merged?.read).toBe(false);
    expect(merged?.operations.map((op) => [op.kind, op.kind === 'update-destination' ? op.destination.weight : undefined])).toEqual([
      ['update-destination', 5],
      ['update-destination', 7],
    ]);
    expect(errors).toEqual([]);
  });

  it('reports a pass that threw and reads the kernel on the next one', async () => {
    const kernel = new GatedKernel();
    const errors: string[] = [];
    const table = new KernelTable(new Reconciler(kernel), (pass, err) => errors.push(`${pass}: ${(err as Error).message}`));
    table.replace(new Map([[key(1), entry(1)]]));
    kernel.failNextRead = true;
    expect(await table.sync()).toBeUndefined();
    expect(errors).toEqual(['sync: dump interrupted']);
    const next = await table.update([key(1)]);
    expect(next?.read).toBe(true);
    expect(next?.operations.map((op) => op.kind)).toEqual(['add-service', 'add-destination']);
  });

  it('runs a job after everything queued before it', async () => {
    const kernel = new GatedKernel();
    const table = new KernelTable(new Reconciler(kernel), () => {});
    table.replace(new Map([[key(1), entry(1)]]));
    let release!: () => void;
    kernel.gate = new Promise((r) => (release = r));
    const order: string[] = [];
    void table.sync().then(() => order.push('sync'));
    const last = table.after(async () => order.push('cleanup'));
    release();
    await last;
    expect(order).toEqual(['sync', 'cleanup']);
  });
});
