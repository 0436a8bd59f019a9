// Runs inside the UML guest: the real IPVS module, programmed by our client and read back by
// the real ipvsadm, and the reverse.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IpvsClient } from '../../src/ipvs/client.js';
import { ipvsadm, savedRules } from '../lab/ipvsadm.js';
import { IpvsError } from '../../src/ipvs/errors.js';
import { formatRules } from '../../src/ipvs/ipvsadm-rules.js';
import { destination, service, type ServiceEntry } from '../../src/ipvs/model.js';
import type { IpvsOperation } from '../../src/ipvs/operations.js';


/** One of each thing the kernel's IPVS offers. */
const everything: ServiceEntry[] = [
  {
    service: service({ address: '10.0.0.1', port: 80, scheduler: 'wrr', flags: { persistent: true }, timeout: 300, netmask: 24 }),
    destinations: [
      destination({ address: '10.0.0.2', port: 80, weight: 3, upperThreshold: 100, lowerThreshold: 10 }),
      destination({ address: '10.0.0.3', port: 80, forward: 'route', weight: 0 }),
      destination({ address: '10.0.0.4', port: 80, forward: 'tunnel' }),
      destination({ address: '10.0.0.5', port: 80, forward: 'tunnel', tunnelType: 'gue', tunnelPort: 6080 }),
      destination({ address: '10.0.0.6', port: 80, forward: 'tunnel', tunnelType: 'gre', tunnelChecksum: 'csum' }),
      destination({ address: '10.0.0.7', port: 80, forward: 'tunnel', tunnelType: 'gue', tunnelPort: 6081, tunnelChecksum: 'remcsum' }),
    ],
  },
  {
    service: service({ protocol: 'udp', address: '10.0.0.1', port: 53, scheduler: 'sh', flags: { onePacket: true, sched1: true, sched2: true } }),
    destinations: [destination({ address: '10.0.0.2', port: 53 })],
  },
  {
    service: service({ protocol: 'sctp', address: '10.0.0.1', port: 5060, scheduler: 'mh', flags: { persistent: true, sched2: true }, timeout: 360, persistenceEngine: 'sip' }),
    destinations: [],
  },
  {
    service: service({ family: 'inet6', address: '2001:db8::1', port: 443, scheduler: 'lc', flags: { sched1: true } }),
    destinations: [destination({ address: '2001:db8::2', port: 8443, weight: 4 })],
  },
  { service: service({ fwmark: 5, scheduler: 'rr' }), destinations: [destination({ address: '10.0.0.9', forward: 'route', weight: 2 })] },
  {
    service: service({ family: 'inet6', fwmark: 6, scheduler: 'wlc', flags: { persistent: true }, timeout: 100, netmask: 64 }),
    destinations: [destination({ address: '2001:db8::9', forward: 'route', weight: 2 })],
  },
  ...['lblc', 'lblcr', 'dh', 'sed', 'nq', 'fo', 'ovf'].map((scheduler, i) => ({
    service: service({ address: '10.0.3.1', port: 1000 + i, scheduler }),
    destinations: [destination({ address: '10.0.3.2', port: 1000 + i })],
  })),
];

function creation(entries: readonly ServiceEntry[]): IpvsOperation[] {
  return entries.flatMap(({ service, destinations }) => [
    { kind: 'add-service' as const, service },
    ...destinations.map((destination) => ({ kind: 'add-destination' as const, service, destination })),
  ]);
}

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

describe('IpvsClient against the real kernel, checked with ipvsadm', () => {
  it('reads the version and the connection table size ipvsadm shows', async () => {
    const info = await ipvs.info();
    const header = ipvsadm('-Ln').split('\n')[0];
    expect(header).toBe(`IP Virtual Server version ${info.version} (size=${info.connectionTableSize})`);
  });

  it('programs every kind of service and destination, in one batch; ipvsadm -Sn agrees line by line', async () => {
    const failures = await ipvs.apply(creation(everything));
    expect(failures).toEqual([]);
    expect(savedRules()).toEqual(formatRules(everything));
    // ipvsadm -Sn does not save thresholds; its list does.
    expect(ipvsadm('-Ln', '--thresholds', '-t', '10.0.0.1:80')).toMatch(/10\.0\.0\.2:80\s+100\s+10\s/);
  });

  it('reads back a table written by ipvsadm, statistics and thresholds included', async () => {
    const rules = formatRules(everything);
    execFileSync('ipvsadm', ['-R'], { input: rules.join('\n') + '\n' });
    ipvsadm('-e', '-t', '10.0.0.1:80', '-r', '10.0.0.2:80', '-m', '-w', '3', '-x', '100', '-y', '10');
    const table = await ipvs.table();
    expect(formatRules(table.map((e) => ({ service: e.service, destinations: e.destinations ?? [] })))).toEqual(rules);
    const web = table.find((e) => e.service.port === 80)!;
    expect(web.destinations!.find((d) => d.address === '10.0.0.2')).toMatchObject({ upperThreshold: 100, lowerThreshold: 10 });
    expect(web.service.stats.connections).toBe(0n);
  });

  it('edits services and destinations in place and removes them', async () => {
    const s = service({ address: '10.0.0.1', port: 80, scheduler: 'rr' });
    const d = destination({ address: '10.0.0.2', port: 80 });
    await ipvs.addService(s);
    await ipvs.addDestination(s, d);
    await ipvs.updateService({ ...s, scheduler: 'wlc', flags: { ...s.flags, persistent: true }, timeout: 50 });
    await ipvs.updateDestination(s, { ...d, forward: 'route', weight: 9 });
    expect(savedRules()).toEqual(['-A -t 10.0.0.1:80 -s wlc -p 50', '-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 9']);
    await ipvs.removeDestination(s, d);
    expect(savedRules()).toEqual(['-A -t 10.0.0.1:80 -s wlc -p 50']);
    await ipvs.removeService(s);
    expect(savedRules()).toEqual([]);
  });

  it('reports refusals with errno, code and a sentence, mapped to the operation in a batch', async () => {
    const s = service({ address: '10.0.0.1', port: 80, scheduler: 'rr' });
    await ipvs.addService(s);
    await expect(ipvs.addService(s)).rejects.toMatchObject({ code: 'EEXIST', errno: 17 });
    const bogus = service({ address: '10.0.0.1', port: 81, scheduler: 'nosuch' });
    const err = await ipvs.addService(bogus).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpvsError);
    expect((err as IpvsError).message).toMatch(/^ipvsadm -A -t 10\.0\.0\.1:81 -s nosuch: not found/);

    const d = destination({ address: '10.0.0.2', port: 80 });
    const ops: IpvsOperation[] = [
      { kind: 'add-destination', service: s, destination: d },
      { kind: 'add-destination', service: s, destination: d },
      { kind: 'add-destination', service: s, destination: { ...d, address: '10.0.0.3' } },
      { kind: 'remove-destination', service: s, destination: { ...d, address: '10.0.0.99' } },
    ];
    for (const ack of ['last', 'each'] as const) {
      ipvsadm('-C');
      await ipvs.addService(s);
      const failures = await ipvs.apply(ops, { ack });
      expect(failures.map((f) => [ops.indexOf(f.operation), f.error.code])).toEqual([
        [1, 'EEXIST'],
        [3, 'ENOENT'],
      ]);
      expect(savedRules()).toHaveLength(3);
    }
  });

  it('sets and reads the connection timeouts, both ways', async () => {
    await ipvs.setTimeouts({ tcp: 1000, tcpFin: 60, udp: 200 });
    expect(ipvsadm('-L', '--timeout').trim()).toBe('Timeout (tcp tcpfin udp): 1000 60 200');
    ipvsadm('--set', '900', '120', '300');
    expect(await ipvs.timeouts()).toEqual({ tcp: 900, tcpFin: 120, udp: 300 });
  });

  it('starts, lists and stops the connection sync daemon, both ways', async () => {
    await ipvs.startSyncDaemon({ state: 'master', interface: 'lo', syncId: 7, maxLength: 1400, group: '224.0.0.82', port: 8850, ttl: 2 });
    expect(ipvsadm('-L', '--daemon').trim()).toBe(
      'master sync daemon (mcast=lo, syncid=7, maxlen=1400, group=224.0.0.82, port=8850, ttl=2)',
    );
    await ipvs.stopSyncDaemon('master');
    expect(ipvsadm('-L', '--daemon').trim()).toBe('');
    ipvsadm('--start-daemon', 'backup', '--mcast-interface', 'lo', '--syncid', '9');
    expect(await ipvs.syncDaemons()).toMatchObject([{ state: 'backup', interface: 'lo', syncId: 9, port: 8848, group: '224.0.0.81' }]);
    ipvsadm('--stop-daemon', 'backup');
  });

  it('flushes the table', async () => {
    await ipvs.apply(creation(everything));
    await ipvs.flush();
    expect(savedRules()).toEqual([]);
  });
});
