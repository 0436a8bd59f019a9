// How a virtual server becomes IPVS services, laid out the way keepalived programs it without
// nftables: one service per address of a group range and per fwmark, DR/TUN destination ports
// following the service. Which servers are in comes from a pool decision: the daemon's health
// state, or for `--plan` every real server up (with the sorry server where quorum is down anyway).
import type { ForwardingMethod, RealServer, SorryServer, VirtualServer, KeepalivedConfig } from './model.js';
import { rangeAddresses } from './server-group.js';
import { destination, service, type AddressFamily, type Destination, type ForwardMethod, type Service, type ServiceEntry } from '../ipvs/model.js';

const forwardMethod: Record<ForwardingMethod['method'], ForwardMethod> = { NAT: 'masq', DR: 'route', TUN: 'tunnel' };

interface Slot {
  service: Service;
  /** The port destinations forwarded by DR/TUN take on this service. */
  directPort: number;
}

function slots(vs: VirtualServer, config: KeepalivedConfig): Slot[] {
  const base = {
    scheduler: vs.scheduler,
    flags: {
      persistent: vs.persistenceTimeout > 0,
      onePacket: vs.onePacket,
      sched1: vs.schedulerFlags.flag1,
      sched2: vs.schedulerFlags.flag2,
      sched3: vs.schedulerFlags.flag3,
    },
    timeout: vs.persistenceTimeout,
    persistenceEngine: vs.persistenceEngine,
  };
  const protocol = vs.protocol ?? 'tcp';
  const netmaskFor = (family: AddressFamily): number =>
    family === vs.family ? vs.persistenceGranularity : family === 'inet' ? 32 : 128;
  const t = vs.target;
  if (t.kind === 'address') {
    return [{ service: service({ ...base, family: t.family, protocol, address: t.address, port: t.port, netmask: vs.persistenceGranularity }), directPort: t.port }];
  }
  if (t.kind === 'fwmark') {
    return [{ service: service({ ...base, family: vs.family, fwmark: t.fwmark, netmask: vs.persistenceGranularity }), directPort: 0 }];
  }
  const group = config.virtualServerGroups.find((g) => g.name === t.name)!;
  const out: Slot[] = [];
  for (const range of group.ranges) {
    for (const address of rangeAddresses(range)) {
      out.push({
        service: service({ ...base, family: range.family, protocol, address, port: range.port, netmask: netmaskFor(range.family) }),
        directPort: range.port,
      });
    }
  }
  for (const mark of group.fwmarks) {
    const family = mark.family ?? vs.family;
    out.push({ service: service({ ...base, family, fwmark: mark.fwmark, netmask: netmaskFor(family) }), directPort: 0 });
  }
  return out;
}

function toDestination(server: RealServer | SorryServer, weight: number, directPort: number): Destination {
  const f = server.forwarding;
  return destination({
    family: server.family,
    address: server.address,
    port: f.method === 'NAT' ? server.port : directPort,
    forward: forwardMethod[f.method],
    weight,
    upperThreshold: 'upperThreshold' in server ? server.upperThreshold : 0,
    lowerThreshold: 'lowerThreshold' in server ? server.lowerThreshold : 0,
    tunnelType: f.tunnelType,
    tunnelPort: f.tunnelPort,
    tunnelChecksum: f.tunnelChecksum,
  });
}

/** One destination a pool decision puts in the table. */
export interface PoolDestination {
  address: string;
  port: number;
  weight: number;
}

/** Which servers a virtual server's services hold now, and with what weight. */
export interface PoolDecision {
  destinations: readonly PoolDestination[];
  /** The sorry server stands in: an entry at its address takes the sorry server's forwarding. */
  sorryActive: boolean;
}

export class PoolDecisionError extends Error {
  readonly code = 'EPOOLDECISION';
}

const endpointKey = (address: string, port: number): string => `${address}|${port}`;

/** keepalived's start-up quorum decision (set_quorum_states, then update_quorum_state(init)). */
export function quorumUpAtStart(vs: VirtualServer): boolean {
  const live = vs.realServers.reduce((sum, rs) => sum + rs.weight, 0);
  return live >= vs.quorum + vs.hysteresis && live > 0;
}

/** The decision `--plan` shows: every real server up, the sorry server where quorum is down anyway. */
export function everyServerUp(vs: VirtualServer): PoolDecision {
  const sorry = vs.sorryServer;
  const sorryKey = sorry && endpointKey(sorry.address, sorry.port);
  if (!quorumUpAtStart(vs) && sorry) {
    // Quorum down: alive servers leave the pool (inhibited ones stay at weight 0), the sorry server joins.
    const kept = vs.realServers
      .filter((rs) => rs.inhibitOnFailure && endpointKey(rs.address, rs.port) !== sorryKey)
      .map((rs) => ({ address: rs.address, port: rs.port, weight: 0 }));
    return { destinations: [...kept, { address: sorry.address, port: sorry.port, weight: 1 }], sorryActive: true };
  }
  const list: PoolDestination[] = vs.realServers.map((rs) => ({ address: rs.address, port: rs.port, weight: rs.weight }));
  if (sorry?.inhibit && !vs.realServers.some((rs) => endpointKey(rs.address, rs.port) === sorryKey)) {
    list.push({ address: sorry.address, port: sorry.port, weight: 0 });
  }
  return { destinations: list, sorryActive: false };
}

// Real servers by endpoint, per virtual server: a pool decision is laid out on every health
// change, and a linear search per destination made that quadratic in the pool size.
const realServerIndex = new WeakMap<VirtualServer, Map<string, RealServer>>();

function realServerAt(vs: VirtualServer, address: string, port: number): RealServer | undefined {
  let index = realServerIndex.get(vs);
  if (!index) {
    index = new Map(vs.realServers.map((rs) => [`${rs.address}|${rs.port}`, rs]));
    realServerIndex.set(vs, index);
  }
  return index.get(`${address}|${port}`);
}

/** The configured server a decided destination stands for. */
function serverFor(vs: VirtualServer, d: PoolDestination, sorryActive: boolean): RealServer | SorryServer {
  const sorry = vs.sorryServer;
  const real = realServerAt(vs, d.address, d.port);
  const isSorry = sorry !== undefined && sorry.address === d.address && sorry.port === d.port;
  if (isSorry && (sorryActive || real === undefined)) return sorry;
  if (real === undefined) throw new PoolDecisionError(`${d.address}:${d.port} is neither a real server nor the sorry server of this virtual server`);
  return real;
}

/** The services of one virtual server (one per group address and fwmark) holding the decided destinations. */
export function serviceEntries(vs: VirtualServer, config: KeepalivedConfig, pool: PoolDecision): ServiceEntry[] {
  const servers = pool.destinations.map((d) => ({ server: serverFor(vs, d, pool.sorryActive), weight: d.weight }));
  return slots(vs, config).map((slot) => ({
    service: slot.service,
    destinations: servers.map(({ server, weight }) => toDestination(server, weight, slot.directPort)),
  }));
}

export function planTable(config: KeepalivedConfig): ServiceEntry[] {
  return config.virtualServers.flatMap((vs) => serviceEntries(vs, config, everyServerUp(vs)));
}
