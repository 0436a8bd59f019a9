// The owned set across runs: what a previous run owned is removed when the configuration dropped
// it, foreign services stay, and every change of the set is reported (grown before the adds go out).
import { describe, expect, it } from 'vitest';
import type { ApplyFailure, ObservedEntry } from '../../src/ipvs/client.js';
import { IpvsError } from '../../src/ipvs/errors.js';
import { destination, service, serviceKey, type ServiceEntry } from '../../src/ipvs/model.js';
import type { IpvsOperation } from '../../src/ipvs/operations.js';
import { Reconciler, type IpvsTable } from '../../src/ipvs/reconciler.js';
import { NetlinkError } from '../../src/netlink/errors.js';

const zeroStats = {
  connections: 0n, inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n,
  connectionRate: 0n, inPacketRate: 0n, outPacketRate: 0n, inByteRate: 0n, outByteRate: 0n,
};

/** Services only (no destinations in these tests); `log` interleaves applied operations and owned-set reports. */
class ServiceKernel implements IpvsTable {
  readonly services = new Map<string, ServiceEntry['service']>();
  readonly log: string[] = [];
  refuse: (op: IpvsOperation) => boolean = () => false;

  async table(): Promise<ObservedEntry[]> {
    return [...this.services.values()].map((s) => ({ service: { ...s, stats: zeroStats }, destinations: [] }));
  }

  async apply(operations: readonly IpvsOperation[]): Promise<ApplyFailure[]> {
    const failures: ApplyFailure[] = [];
    for (const op of operations) {
      if (this.refuse(op)) {
        failures.push({ operation: op, error: new IpvsError('test', new NetlinkError(16)) });
        continue;
      }
      this.log.push(`${op.kind} ${serviceKey(op.service)}`);
      if (op.kind === 'add-service') this.services.set(serviceKey(op.service), op.service);
      if (op.kind === 'remove-service') this.services.delete(serviceKey(op.service));
    }
    return failures;
  }
}

const a = service({ address: '10.0.0.1', port: 80, scheduler: 'rr' });
const b = service({ address: '10.0.0.2', port: 80, scheduler: 'rr' });
const foreign = service({ address: '10.9.9.9', port: 22, scheduler: 'rr' });
const desiredOf = (...services: Array<ServiceEntry['service']>) => new Map(services.map((s) => [serviceKey(s), { service: s, destinations: [] }]));

function reconciler(kernel: ServiceKernel, owned: string[] = []) {
  const reports: string[][] = [];
  const r = new Reconciler(kernel, {
    owned,
    onOwnedChange: (set) => {
      const sorted = [...set].sort();
      reports.push(sorted);
      kernel.log.push(`owned ${sorted.join(',')}`);
    },
  });
  return { r, reports };
}

describe('Reconciler ownership across runs', () => {
  it('records a service as owned before the operation that adds it is sent', async () => {
    const kernel = new ServiceKernel();
    const { r } = reconciler(kernel);
    await r.sync(desiredOf(a, b));
    expect(kernel.log).toEqual([`owned ${serviceKey(a)},${serviceKey(b)}`, `add-service ${serviceKey(a)}`, `add-service ${serviceKey(b)}`]);
  });

  it('after a restart removes a service the previous run owned and the new configuration dropped; a foreign one stays', async () => {
    const kernel = new ServiceKernel();
    for (const s of [a, b, foreign]) kernel.services.set(serviceKey(s), s);
    const { r, reports } = reconciler(kernel, [serviceKey(a), serviceKey(b)]);
    const report = await r.sync(desiredOf(a));
    expect(report.operations.map((op) => `${op.kind} ${serviceKey(op.service)}`)).toEqual([`remove-service ${serviceKey(b)}`]);
    expect([...kernel.services.keys()].sort()).toEqual([serviceKey(a), serviceKey(foreign)].sort());
    // Shrunk only once the removal went through.
    expect(kernel.log).toEqual([`remove-service ${serviceKey(b)}`, `owned ${serviceKey(a)}`]);
    expect(reports).toEqual([[serviceKey(a)]]);
    expect([...r.ownedServices]).toEqual([serviceKey(a)]);
  });

  it('without the previous set the dropped service is left alone (the behaviour the file exists to avoid)', async () => {
    const kernel = new ServiceKernel();
    for (const s of [a, b]) kernel.services.set(serviceKey(s), s);
    const { r } = reconciler(kernel);
    await r.sync(desiredOf(a));
    expect(kernel.services.has(serviceKey(b))).toBe(true);
  });

  it('keeps owning a service whose removal the kernel refused, and says nothing while the set is unchanged', async () => {
    const kernel = new ServiceKernel();
    for (const s of [a, b]) kernel.services.set(serviceKey(s), s);
    kernel.refuse = (op) => op.kind === 'remove-service';
    const { r, reports } = reconciler(kernel, [serviceKey(a), serviceKey(b)]);
    await r.sync(desiredOf(a));
    await r.sync(desiredOf(a));
    expect(reports).toEqual([]);
    expect([...r.ownedServices].sort()).toEqual([serviceKey(a), serviceKey(b)].sort());
    kernel.refuse = () => false;
    await r.sync(desiredOf(a));
    expect(reports).toEqual([[serviceKey(a)]]);
    expect(kernel.services.has(serviceKey(b))).toBe(false);
  });

  it('an owned service already gone from the kernel is dropped from the set without an operation', async () => {
    const kernel = new ServiceKernel();
    kernel.services.set(serviceKey(a), a);
    const { r, reports } = reconciler(kernel, [serviceKey(a), serviceKey(b)]);
    const report = await r.sync(desiredOf(a));
    expect(report.operations).toEqual([]);
    expect(reports).toEqual([[serviceKey(a)]]);
  });

  it('reports nothing for destination changes inside owned services', async () => {
    const kernel = new ServiceKernel();
    const { r, reports } = reconciler(kernel);
    await r.sync(desiredOf(a));
    await r.update(new Map([[serviceKey(a), { service: a, destinations: [destination({ address: '10.0.1.1', port: 80 })] }]]));
    expect(reports).toHaveLength(1);
  });
});
