// IPVS objects <-> generic netlink attributes. The only place that knows attribute numbers
// and byte orders; everything else speaks the model.
import {
  be16Attr,
  nestedAttr,
  parseAttributes,
  readBe16,
  readString,
  readU16,
  readU32,
  readU64,
  readU8,
  stringAttr,
  u16Attr,
  u32Attr,
  u8Attr,
  attr,
} from '../netlink/attributes.js';
import { formatAddress, parseAddress } from '../netlink/address.js';
import {
  AF_INET,
  AF_INET6,
  CmdAttr,
  DaemonAttr,
  DaemonState,
  DestAttr,
  FWD_MASK,
  FwdMethod,
  InfoAttr,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  StatsAttr,
  SvcAttr,
  SvcFlag,
  TunnelFlag,
  TunnelTypeCode,
} from './constants.js';
import type {
  AddressFamily,
  Destination,
  DestinationState,
  ForwardMethod,
  IpvsInfo,
  Protocol,
  Service,
  ServiceState,
  Stats,
  SyncDaemon,
  Timeouts,
  TunnelChecksum,
  TunnelType,
} from './model.js';

const familyCode: Record<AddressFamily, number> = { inet: AF_INET, inet6: AF_INET6 };
const protocolCode: Record<Protocol, number> = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, sctp: IPPROTO_SCTP };
const forwardCode: Record<ForwardMethod, number> = {
  masq: FwdMethod.MASQ,
  local: FwdMethod.LOCALNODE,
  tunnel: FwdMethod.TUNNEL,
  route: FwdMethod.DROUTE,
  bypass: FwdMethod.BYPASS,
};
const tunnelTypeCode: Record<TunnelType, number> = {
  ipip: TunnelTypeCode.IPIP,
  gue: TunnelTypeCode.GUE,
  gre: TunnelTypeCode.GRE,
};
const tunnelChecksumCode: Record<TunnelChecksum, number> = {
  nocsum: 0,
  csum: TunnelFlag.CSUM,
  remcsum: TunnelFlag.REMCSUM,
};

function invert<K extends string>(table: Record<K, number>): Map<number, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as number, k as K]));
}
const familyName = invert(familyCode);
const protocolName = invert(protocolCode);
const forwardName = invert(forwardCode);
const tunnelTypeName = invert(tunnelTypeCode);

/** The kernel copies a union nf_inet_addr: IPv4 in the first 4 of 16 bytes. */
function addressBytes(address: string): Buffer {
  const out = Buffer.alloc(16);
  parseAddress(address).bytes.copy(out);
  return out;
}

function decodeAddress(family: AddressFamily, value: Buffer): string {
  return formatAddress(value.subarray(0, family === 'inet' ? 4 : 16));
}

/**
 * IPVS_SVC_ATTR_NETMASK is a raw 32-bit field: an IPv4 mask in network byte order, but an
 * IPv6 prefix length in host order (ip_vs_ctl.c and ipvsadm both treat it so).
 */
function netmaskAttr(family: AddressFamily, prefix: number): Buffer {
  const value = Buffer.alloc(4);
  if (family === 'inet') value.writeUInt32BE(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
  else value.writeUInt32LE(prefix);
  return attr(SvcAttr.NETMASK, value);
}

function decodeNetmask(family: AddressFamily, value: Buffer): number {
  if (family === 'inet6') return value.readUInt32LE(0);
  let mask = value.readUInt32BE(0);
  let prefix = 0;
  while (mask & 0x80000000) {
    prefix++;
    mask = (mask << 1) >>> 0;
  }
  return prefix;
}

function flagBits(s: Service): number {
  return (
    (s.flags.persistent ? SvcFlag.PERSISTENT : 0) |
    (s.flags.onePacket ? SvcFlag.ONEPACKET : 0) |
    (s.flags.sched1 ? SvcFlag.SCHED1 : 0) |
    (s.flags.sched2 ? SvcFlag.SCHED2 : 0) |
    (s.flags.sched3 ? SvcFlag.SCHED3 : 0)
  );
}

/** Attributes that identify a service (enough for DEL_SERVICE and for naming it in dest commands). */
function serviceIdentity(s: Service): Buffer[] {
  const id = [u16Attr(SvcAttr.AF, familyCode[s.family])];
  if (s.fwmark !== 0) id.push(u32Attr(SvcAttr.FWMARK, s.fwmark));
  else
    id.push(
      u16Attr(SvcAttr.PROTOCOL, protocolCode[s.protocol]),
      attr(SvcAttr.ADDR, addressBytes(s.address)),
      be16Attr(SvcAttr.PORT, s.port),
    );
  return id;
}

// Every destination operation names its service: encode that once per service object (services
// are values, never changed in place, so the encoding cannot go stale).
const identities = new WeakMap<Service, Buffer>();

export function serviceIdentityAttr(s: Service): Buffer {
  let encoded = identities.get(s);
  if (!encoded) {
    encoded = nestedAttr(CmdAttr.SERVICE, serviceIdentity(s));
    identities.set(s, encoded);
  }
  return encoded;
}

/** The full service, as NEW_SERVICE and SET_SERVICE require. */
export function serviceAttr(s: Service): Buffer {
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(flagBits(s), 0);
  // The mask says which bits we set; HASHED belongs to the kernel.
  flags.writeUInt32LE((0xffffffff & ~SvcFlag.HASHED) >>> 0, 4);
  const children = [
    ...serviceIdentity(s),
    stringAttr(SvcAttr.SCHED_NAME, s.scheduler),
    attr(SvcAttr.FLAGS, flags),
    u32Attr(SvcAttr.TIMEOUT, s.timeout),
    netmaskAttr(s.family, s.netmask),
  ];
  if (s.persistenceEngine) children.push(stringAttr(SvcAttr.PE_NAME, s.persistenceEngine));
  return nestedAttr(CmdAttr.SERVICE, children);
}

export function destinationIdentityAttr(d: Destination): Buffer {
  return nestedAttr(CmdAttr.DEST, [
    attr(DestAttr.ADDR, addressBytes(d.address)),
    be16Attr(DestAttr.PORT, d.port),
    u16Attr(DestAttr.ADDR_FAMILY, familyCode[d.family]),
  ]);
}

export function destinationAttr(d: Destination): Buffer {
  const children = [
    attr(DestAttr.ADDR, addressBytes(d.address)),
    be16Attr(DestAttr.PORT, d.port),
    u16Attr(DestAttr.ADDR_FAMILY, familyCode[d.family]),
    u32Attr(DestAttr.FWD_METHOD, forwardCode[d.forward]),
    u32Attr(DestAttr.WEIGHT, d.weight),
    u32Attr(DestAttr.U_THRESH, d.upperThreshold),
    u32Attr(DestAttr.L_THRESH, d.lowerThreshold),
  ];
  if (d.forward === 'tunnel') {
    children.push(
      u8Attr(DestAttr.TUN_TYPE, tunnelTypeCode[d.tunnelType]),
      be16Attr(DestAttr.TUN_PORT, d.tunnelPort),
      u16Attr(DestAttr.TUN_FLAGS, tunnelChecksumCode[d.tunnelChecksum]),
    );
  }
  return nestedAttr(CmdAttr.DEST, children);
}

export class IpvsDecodeError extends Error {
  readonly code = 'EIPVSDECODE';
}

function required(attrs: Map<number, Buffer>, type: number, what: string): Buffer {
  const value = attrs.get(type);
  if (!value) throw new IpvsDecodeError(`kernel reply lacks ${what}`);
  return value;
}

function decodeStats(attrs: Map<number, Buffer>, stats64Type: number, stats32Type: number): Stats {
  const s64 = attrs.get(stats64Type);
  const s32 = attrs.get(stats32Type);
  const nested = parseAttributes(s64 ?? s32 ?? Buffer.alloc(0));
  const read = (type: number): bigint => {
    const v = nested.get(type);
    if (!v) return 0n;
    return v.length >= 8 ? readU64(v) : BigInt(readU32(v));
  };
  return {
    connections: read(StatsAttr.CONNS),
    inPackets: read(StatsAttr.INPKTS),
    outPackets: read(StatsAttr.OUTPKTS),
    inBytes: read(StatsAttr.INBYTES),
    outBytes: read(StatsAttr.OUTBYTES),
    connectionRate: read(StatsAttr.CPS),
    inPacketRate: read(StatsAttr.INPPS),
    outPacketRate: read(StatsAttr.OUTPPS),
    inByteRate: read(StatsAttr.INBPS),
    outByteRate: read(StatsAttr.OUTBPS),
  };
}

/** Decodes the payload (after the genl header) of a GET_SERVICE reply. */
export function decodeService(payload: Buffer): ServiceState {
  const top = parseAttributes(payload);
  const a = parseAttributes(required(top, CmdAttr.SERVICE, 'the service attribute'));
  const family = familyName.get(readU16(required(a, SvcAttr.AF, 'the address family')));
  if (!family) throw new IpvsDecodeError('service of an unknown address family');
  const fwmark = a.has(SvcAttr.FWMARK) ? readU32(a.get(SvcAttr.FWMARK)!) : 0;
  const flags = readU32(required(a, SvcAttr.FLAGS, 'the flags'));
  return {
    family,
    protocol: protocolName.get(a.has(SvcAttr.PROTOCOL) ? readU16(a.get(SvcAttr.PROTOCOL)!) : 0) ?? 'tcp',
    address: a.has(SvcAttr.ADDR) && fwmark === 0 ? decodeAddress(family, a.get(SvcAttr.ADDR)!) : family === 'inet' ? '0.0.0.0' : '::',
    port: fwmark === 0 && a.has(SvcAttr.PORT) ? readBe16(a.get(SvcAttr.PORT)!) : 0,
    fwmark,
    scheduler: readString(required(a, SvcAttr.SCHED_NAME, 'the scheduler')),
    flags: {
      persistent: (flags & SvcFlag.PERSISTENT) !== 0,
      onePacket: (flags & SvcFlag.ONEPACKET) !== 0,
      sched1: (flags & SvcFlag.SCHED1) !== 0,
      sched2: (flags & SvcFlag.SCHED2) !== 0,
      sched3: (flags & SvcFlag.SCHED3) !== 0,
    },
    timeout: readU32(required(a, SvcAttr.TIMEOUT, 'the timeout')),
    netmask: decodeNetmask(family, required(a, SvcAttr.NETMASK, 'the netmask')),
    persistenceEngine: a.has(SvcAttr.PE_NAME) ? readString(a.get(SvcAttr.PE_NAME)!) : '',
    stats: decodeStats(a, SvcAttr.STATS64, SvcAttr.STATS),
  };
}

/** Decodes the payload of a GET_DEST reply; `serviceFamily` is used when the kernel omits ADDR_FAMILY. */
export function decodeDestination(payload: Buffer, serviceFamily: AddressFamily): DestinationState {
  const top = parseAttributes(payload);
  const a = parseAttributes(required(top, CmdAttr.DEST, 'the destination attribute'));
  const family = a.has(DestAttr.ADDR_FAMILY)
    ? (familyName.get(readU16(a.get(DestAttr.ADDR_FAMILY)!)) ?? serviceFamily)
    : serviceFamily;
  const tunnelFlags = a.has(DestAttr.TUN_FLAGS) ? readU16(a.get(DestAttr.TUN_FLAGS)!) : 0;
  return {
    family,
    address: decodeAddress(family, required(a, DestAttr.ADDR, 'the address')),
    port: readBe16(required(a, DestAttr.PORT, 'the port')),
    forward: forwardName.get(readU32(required(a, DestAttr.FWD_METHOD, 'the forwarding method')) & FWD_MASK) ?? 'masq',
    weight: readU32(required(a, DestAttr.WEIGHT, 'the weight')) | 0,
    upperThreshold: a.has(DestAttr.U_THRESH) ? readU32(a.get(DestAttr.U_THRESH)!) : 0,
    lowerThreshold: a.has(DestAttr.L_THRESH) ? readU32(a.get(DestAttr.L_THRESH)!) : 0,
    tunnelType: tunnelTypeName.get(a.has(DestAttr.TUN_TYPE) ? readU8(a.get(DestAttr.TUN_TYPE)!) : 0) ?? 'ipip',
    tunnelPort: a.has(DestAttr.TUN_PORT) ? readBe16(a.get(DestAttr.TUN_PORT)!) : 0,
    tunnelChecksum: tunnelFlags & TunnelFlag.REMCSUM ? 'remcsum' : tunnelFlags & TunnelFlag.CSUM ? 'csum' : 'nocsum',
    activeConnections: a.has(DestAttr.ACTIVE_CONNS) ? readU32(a.get(DestAttr.ACTIVE_CONNS)!) : 0,
    inactiveConnections: a.has(DestAttr.INACT_CONNS) ? readU32(a.get(DestAttr.INACT_CONNS)!) : 0,
    persistentConnections: a.has(DestAttr.PERSIST_CONNS) ? readU32(a.get(DestAttr.PERSIST_CONNS)!) : 0,
    stats: decodeStats(a, DestAttr.STATS64, DestAttr.STATS),
  };
}

export function timeoutAttrs(t: Timeouts): Buffer[] {
  return [
    u32Attr(CmdAttr.TIMEOUT_TCP, t.tcp),
    u32Attr(CmdAttr.TIMEOUT_TCP_FIN, t.tcpFin),
    u32Attr(CmdAttr.TIMEOUT_UDP, t.udp),
  ];
}

export function decodeTimeouts(payload: Buffer): Timeouts {
  const a = parseAttributes(payload);
  const read = (type: number): number => (a.has(type) ? readU32(a.get(type)!) : 0);
  return { tcp: read(CmdAttr.TIMEOUT_TCP), tcpFin: read(CmdAttr.TIMEOUT_TCP_FIN), udp: read(CmdAttr.TIMEOUT_UDP) };
}

export function decodeInfo(payload: Buffer): IpvsInfo {
  const a = parseAttributes(payload);
  const v = readU32(required(a, InfoAttr.VERSION, 'the version'));
  return {
    version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`,
    connectionTableSize: readU32(required(a, InfoAttr.CONN_TAB_SIZE, 'the connection table size')),
  };
}

function daemonStateCode(state: SyncDaemon['state']): number {
  return state === 'master' ? DaemonState.MASTER : DaemonState.BACKUP;
}

export function daemonAttr(d: SyncDaemon): Buffer {
  const children = [
    u32Attr(DaemonAttr.STATE, daemonStateCode(d.state)),
    stringAttr(DaemonAttr.MCAST_IFN, d.interface),
    u32Attr(DaemonAttr.SYNC_ID, d.syncId),
  ];
  if (d.maxLength) children.push(u16Attr(DaemonAttr.SYNC_MAXLEN, d.maxLength));
  if (d.group) {
    const { family, bytes } = parseAddress(d.group);
    children.push(attr(family === 'inet' ? DaemonAttr.MCAST_GROUP : DaemonAttr.MCAST_GROUP6, bytes));
  }
  if (d.port) children.push(u16Attr(DaemonAttr.MCAST_PORT, d.port));
  if (d.ttl) children.push(u8Attr(DaemonAttr.MCAST_TTL, d.ttl));
  return nestedAttr(CmdAttr.DAEMON, children);
}

export function daemonStateAttr(state: SyncDaemon['state']): Buffer {
  return nestedAttr(CmdAttr.DAEMON, [u32Attr(DaemonAttr.STATE, daemonStateCode(state))]);
}

export function decodeDaemon(payload: Buffer): SyncDaemon {
  const top = parseAttributes(payload);
  const a = parseAttributes(required(top, CmdAttr.DAEMON, 'the daemon attribute'));
  const group4 = a.get(DaemonAttr.MCAST_GROUP);
  const group6 = a.get(DaemonAttr.MCAST_GROUP6);
  return {
    state: readU32(required(a, DaemonAttr.STATE, 'the state')) === DaemonState.MASTER ? 'master' : 'backup',
    interface: readString(required(a, DaemonAttr.MCAST_IFN, 'the interface')),
    syncId: readU32(required(a, DaemonAttr.SYNC_ID, 'the sync id')),
    maxLength: a.has(DaemonAttr.SYNC_MAXLEN) ? readU16(a.get(DaemonAttr.SYNC_MAXLEN)!) : 0,
    group: group6 ? formatAddress(group6) : group4 ? formatAddress(group4) : '',
    port: a.has(DaemonAttr.MCAST_PORT) ? readU16(a.get(DaemonAttr.MCAST_PORT)!) : 0,
    ttl: a.has(DaemonAttr.MCAST_TTL) ? readU8(a.get(DaemonAttr.MCAST_TTL)!) : 0,
  };
}
