import { describe, expect, it } from 'vitest';
import type { ApplyFailure, ObservedEntry } from '../../src/ipvs/client.js';
import { IpvsError } from '../../src/ipvs/errors.js';
import { destination, destinationKey, service, serviceKey, type Destination, type ServiceEntry } from '../../src/ipvs/model.js';
import type { IpvsOperation } from '../../src/ipvs/operations.js';
import { Reconciler, type IpvsTable } from '../../src/ipvs/reconciler.js';
import { NetlinkError } from '../../src/netlink/errors.js';

const zeroStats = {
  connections: 0n, inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n,
  connectionRate: 0n, inPacketRate: 0n, outPacketRate: 0n, inByteRate: 0n, outByteRate: 0n,
};

/** An in-memory kernel that executes operations the way IPVS does, with failures on demand. */
class MemoryKernel implements IpvsTable {
  readonly services = new Map<string, { service: ServiceEntry['service']; destinations: Map<string, Destination> }>();
  reads = 0;
  applied: IpvsOperation[] = [];
  failRead = false;
  refuse: (op: IpvsOperation) => boolean = () => false;

  async table(): Promise<ObservedEntry[]> {
    this.reads++;
    if (this.failRead) throw new Error('dump interrupted');
    return [...this.services.values()].map((e) => ({
      service: { ...e.service, stats: zeroStats },
      destinations: [...e.destinations.values()].map((d) => ({
        ...d, activeConnections: 0, inactiveConnections: 0, persistentConnections: 0, stats: zeroStats,
      })),
    }));
  }

  async apply(operations: readonly IpvsOperation[]): Promise<ApplyFailure[]> {
    const failures: ApplyFailure[] = [];
    for (const op of operations) {
      if (this.refuse(op)) {
        failures.push({ operation: op, error: new IpvsError('test', new NetlinkError(16)) });
        continue;
      }
      this.applied.push(op);
      const key = serviceKey(op.service);
      if (op.kind === 'add-service') this.services.set(key, { service: op.service, destinations: new Map() });
      else if (op.kind === 'update-service') this.services.get(key)!.service = op.service;
      else if (op.kind === 'remove-service') this.services.delete(key);
      else if (op.kind === 'remove-destination') this.services.get(key)!.destinations.delete(destinationKey(op.destination));
      else this.services.get(key)!.destinations.set(destinationKey(op.destination), op.destination);
    }
    return failures;
  }
}

const web = service({ address: '10.0.0.1', port: 80, scheduler: 'wrr' });
const rs = (n: number, weight = 1) => destination({ address: `10.0.1.${n}`, port: 80, weight });
const desiredOf = (...entries: ServiceEntry[]) => new Map(entries.map((e) => [serviceKey(e.service), e]));

describe('Reconciler', () => {
  it('programs an empty kernel, then applies a single change without reading it again', async () => {
    const kernel = new MemoryKernel();
    const r = new Reconciler(kernel);
    const first = await r.sync(desiredOf({ service: web, destinations: [rs(1), rs(2)] }));
    expect(first.operations).toHaveLength(3);
    expect(kernel.reads).toBe(1);
    const second = await r.update(desiredOf({ service: web, destinations: [rs(1, 5), rs(2)] }), [serviceKey(web)]);
    expect(second.read).toBe(false);
    expect(second.operations.map((o) => o.kind)).toEqual(['update-destination']);
    expect(kernel.reads).toBe(1);
    expect(kernel.services.get(serviceKey(web))!.destinations.get('10.0.1.1:80')!.weight).toBe(5);
  });

  it('repairs a change made behind its back on the next full pass, and leaves foreign services alone', async () => {
    const kernel = new MemoryKernel();
    const foreign = service({ address: '10.9.9.9', port: 22, scheduler: 'rr' });
    kernel.services.set(serviceKey(foreign), { service: foreign, destinations: new Map() });
    const r = new Reconciler(kernel);
    const desired = desiredOf({ service: web, destinations: [rs(1)] });
    await r.sync(desired);
    kernel.services.get(serviceKey(web))!.destinations.set('10.0.1.1:80', rs(1, 9));
    const report = await r.sync(desired);
    expect(report.operations.map((o) => o.kind)).toEqual(['update-destination']);
    expect(kernel.services.has(serviceKey(foreign))).toBe(true);
  });

  it('adopts a matching service found in the kernel without touching it', async () => {
    const kernel = new MemoryKernel();
    kernel.services.set(serviceKey(web), { service: web, destinations: new Map([['10.0.1.1:80', rs(1)]]) });
    const r = new Reconciler(kernel);
    const report = await r.sync(desiredOf({ service: web, destinations: [rs(1)] }));
    expect(report.operations).toEqual([]);
    expect(r.ownedServices.has(serviceKey(web))).toBe(true);
  });

  it('removes a service it owned once the configuration drops it', async () => {
    const kernel = new MemoryKernel();
    const r = new Reconciler(kernel);
    await r.sync(desiredOf({ service: web, destinations: [rs(1)] }));
    const report = await r.update(new Map());
    expect(report.operations.map((o) => o.kind)).toEqual(['remove-service']);
    expect(kernel.services.size).toBe(0);
    expect(r.ownedServices.size).toBe(0);
  });

  it('treats a failed read as unknown: nothing is applied, nothing is deleted', async () => {
    const kernel = new MemoryKernel();
    const r = new Reconciler(kernel);
    await r.sync(desiredOf({ service: web, destinations: [rs(1)] }));
    kernel.failRead = true;
    await expect(r.sync(new Map())).rejects.toThrow('dump interrupted');
    expect(kernel.services.size).toBe(1);
    // The belief is gone too: the next fast pass reads the kernel first.
    kernel.failRead = false;
    const report = await r.update(desiredOf({ service: web, destinations: [rs(1)] }));
    expect(report.read).toBe(true);
  });

  it('after a refused operation, reads the kernel again on the next pass and retries', async () => {
    const kernel = new MemoryKernel();
    kernel.refuse = (op) => op.kind === 'add-destination' && op.destination.address === '10.0.1.2';
    const r = new Reconciler(kernel);
    const desired = desiredOf({ service: web, destinations: [rs(1), rs(2)] });
    const first = await r.sync(desired);
    expect(first.failures).toHaveLength(1);
    expect(first.failures[0]!.operation).toMatchObject({ kind: 'add-destination', destination: { address: '10.0.1.2' } });
    kernel.refuse = () => false;
    const second = await r.update(desired);
    expect(second.read).toBe(true);
    expect(second.operations.map((o) => o.kind)).toEqual(['add-destination']);
    expect(kernel.services.get(serviceKey(web))!.destinations.size).toBe(2);
  });

  it('plans without applying', async () => {
    const kernel = new MemoryKernel();
    const r = new Reconciler(kernel);
    const ops = await r.plan(desiredOf({ service: web, destinations: [rs(1)] }));
    expect(ops).toHaveLength(2);
    expect(kernel.applied).toEqual([]);
  });
});
