// The reconciler against the real kernel, with the table edited behind its back by ipvsadm.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IpvsClient, keyed } from '../../src/ipvs/client.js';
import { formatRules } from '../../src/ipvs/ipvsadm-rules.js';
import { destination, service, type ServiceEntry } from '../../src/ipvs/model.js';
import { Reconciler } from '../../src/ipvs/reconciler.js';
import { ipvsadm, savedRules as saved } from '../lab/ipvsadm.js';


const web = service({ address: '10.0.0.1', port: 80, scheduler: 'wrr' });
const dns = service({ protocol: 'udp', address: '10.0.0.1', port: 53, scheduler: 'rr' });
const rs = (n: number, weight = 1) => destination({ address: `10.0.1.${n}`, port: 80, weight });
const desired: ServiceEntry[] = [
  { service: web, destinations: [rs(1), rs(2, 5)] },
  { service: dns, destinations: [destination({ address: '10.0.1.1', port: 53 })] },
];

let ipvs: IpvsClient;
beforeAll(async () => {
  ipvs = await IpvsClient.open();
});
afterAll(() => {
  ipvs.close();
  ipvsadm('-C');
});
beforeEach(() => {
  ipvsadm('-C');
});

describe('Reconciler in the real kernel', () => {
  it('programs the table, and a second pass finds nothing to do', async () => {
    const r = new Reconciler(ipvs);
    const first = await r.sync(keyed(desired));
    expect(first.failures).toEqual([]);
    expect(saved()).toEqual(formatRules(desired));
    const second = await r.sync(keyed(desired));
    expect(second.operations).toEqual([]);
  });

  it('keeps a foreign service, repairs a changed weight and a deleted destination', async () => {
    ipvsadm('-A', '-t', '10.9.9.9:22', '-s', 'rr');
    ipvsadm('-a', '-t', '10.9.9.9:22', '-r', '10.9.9.10:22', '-g');
    const r = new Reconciler(ipvs);
    await r.sync(keyed(desired));
    ipvsadm('-e', '-t', '10.0.0.1:80', '-r', '10.0.1.2:80', '-m', '-w', '1');
    ipvsadm('-d', '-u', '10.0.0.1:53', '-r', '10.0.1.1:53');
    const repair = await r.sync(keyed(desired));
    expect(repair.operations.map((o) => o.kind).sort()).toEqual(['add-destination', 'update-destination']);
    expect(saved()).toEqual(
      [...formatRules(desired), '-A -t 10.9.9.9:22 -s rr', '-a -t 10.9.9.9:22 -r 10.9.9.10:22 -g -w 1'].sort(),
    );
  });

  it('rebuilds everything after ipvsadm -C, without recreating what survived', async () => {
    const r = new Reconciler(ipvs);
    await r.sync(keyed(desired));
    ipvsadm('-C');
    const report = await r.sync(keyed(desired));
    expect(report.operations).toHaveLength(5);
    expect(saved()).toEqual(formatRules(desired));
  });

  it('edits a service in place: its counters and connections survive the change', async () => {
    const r = new Reconciler(ipvs);
    await r.sync(keyed(desired));
    ipvsadm('-Z');
    const changed = [{ service: { ...web, scheduler: 'wlc' }, destinations: [rs(1, 3), rs(3)] }, desired[1]!];
    const report = await r.update(keyed(changed));
    expect(report.read).toBe(false);
    expect(report.operations.map((o) => o.kind)).toEqual([
      'update-service', 'update-destination', 'add-destination', 'remove-destination',
    ]);
    expect(saved()).toEqual(formatRules(changed));
  });

  it('removes the services it owned when they leave the desired table, and only those', async () => {
    ipvsadm('-A', '-t', '10.9.9.9:22', '-s', 'rr');
    const r = new Reconciler(ipvs);
    await r.sync(keyed(desired));
    await r.update(keyed([desired[0]!]));
    expect(saved()).toEqual([...formatRules([desired[0]!]), '-A -t 10.9.9.9:22 -s rr'].sort());
  });
});
