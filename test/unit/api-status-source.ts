// A daemon-like status source for API and metrics tests: real pools and desired table from a
// configuration, overrides, and a fake kernel read with counters derived from each address.
import { loadConfigText } from '../../src/config/load.js';
import { desiredTable } from '../../src/daemon/desired-table.js';
import { Overrides } from '../../src/daemon/overrides.js';
import { buildPools, type Pools } from '../../src/daemon/pools.js';
import { StatusModel } from '../../src/daemon/status.js';
import type { ObservedEntry } from '../../src/ipvs/client.js';
import type { ServiceEntry, Stats } from '../../src/ipvs/model.js';
import type { VirtualRouterStatus } from '../../src/vrrp/instance.js';

export function webConfig(realServers: number, options = ''): string {
  const servers = Array.from({ length: realServers }, (_, i) => {
    const address = `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    return `
    real_server ${address} 8080 {
        weight ${(i % 3) + 1}
        TCP_CHECK {
            connect_timeout 1
        }
    }`;
  }).join('');
  return `virtual_server 10.99.0.100 80 {
    delay_loop 5
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    ${options}
${servers}
}
`;
}

function stats(seed: number): Stats {
  const b = BigInt(seed);
  return { connections: b, inPackets: b * 10n, outPackets: b * 9n, inBytes: b * 1000n, outBytes: b * 900n, connectionRate: 1n, inPacketRate: 2n, outPacketRate: 3n, inByteRate: 4n, outByteRate: 5n };
}

/** The kernel as the desired table has it, every destination with counters. */
export function kernelOf(desired: ReadonlyMap<string, ServiceEntry>): ObservedEntry[] {
  return [...desired.values()].map((e, s) => ({
    service: { ...e.service, stats: stats(1000 + s) },
    destinations: e.destinations.map((d, i) => ({ ...d, activeConnections: i % 5, inactiveConnections: i % 7, persistentConnections: 0, stats: stats(i + 1) })),
  }));
}

export const masterInstance: VirtualRouterStatus = {
  name: 'VI_1',
  interface: 'eth0',
  vrid: 51,
  version: 3,
  state: 'master',
  basePriority: 150,
  priority: 150,
  fault: false,
  faultReasons: [],
  master: undefined,
  advertIntervalMs: 1000,
  lastTransition: { from: 'backup', to: 'master', at: 1_700_000_000_000 },
  counters: { advertsSent: 42, advertsReceived: 3, priorityZeroSent: 0, priorityZeroReceived: 0, becameMaster: 1, releasedMaster: 0, transitions: 2, drops: { ttl: 2 }, sendErrors: 0, vipErrors: 0, garpBursts: 1 },
};

export interface FakeDaemon {
  status: StatusModel;
  pools: Pools;
  overrides: Overrides;
  desired(): ReadonlyMap<string, ServiceEntry>;
}

export function fakeDaemon(text: string, now: () => number = Date.now): FakeDaemon {
  const { config } = loadConfigText(text, 'keepalived.conf', { configId: 'lb1' });
  if (!config) throw new Error('the test configuration does not load');
  const pools = buildPools(config);
  const overrides = new Overrides();
  const desired = () => desiredTable(config, (vs) => pools.byVirtualServer.get(vs)!.state, (vs) => overrides.of(pools.byVirtualServer.get(vs)!.name));
  const status = new StatusModel({ version: '0.1.0', configPath: '/etc/keepalived/keepalived.conf', now });
  let table = desired();
  status.attach({
    pools: () => pools,
    desired: () => table,
    overrides: () => overrides,
    vrrpInstances: () => [masterInstance],
    vrrpSyncGroups: () => [],
    logLevel: () => 'info',
  });
  status.kernelRead(kernelOf(table));
  return {
    status,
    pools,
    overrides,
    desired: () => (table = desired()),
  };
}
