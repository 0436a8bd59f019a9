// The kernel's IPVS concepts with readable names. No policy here: what the table *should* be
// is decided by the reconciler's callers.

export type AddressFamily = 'inet' | 'inet6';
export type Protocol = 'tcp' | 'udp' | 'sctp';
/** masq = NAT, route = DR ("gatewaying"), tunnel = TUN; local and bypass exist in the kernel only. */
export type ForwardMethod = 'masq' | 'route' | 'tunnel' | 'local' | 'bypass';
export type TunnelType = 'ipip' | 'gue' | 'gre';
/** The kernel's checksum mode for GUE/GRE tunnels; `nocsum` is the kernel's 0. */
export type TunnelChecksum = 'nocsum' | 'csum' | 'remcsum';

export interface ServiceFlags {
  persistent: boolean;
  /** One-packet scheduling (UDP). */
  onePacket: boolean;
  /** Scheduler-specific flags: for sh and mh, sched1 = fallback, sched2 = port. */
  sched1: boolean;
  sched2: boolean;
  sched3: boolean;
}

export interface Service {
  family: AddressFamily;
  /** The kernel records fwmark services as TCP; ignored for them. */
  protocol: Protocol;
  /** Virtual address; the unspecified address for fwmark services. */
  address: string;
  port: number;
  /** Non-zero for a firewall-mark service. */
  fwmark: number;
  scheduler: string;
  flags: ServiceFlags;
  /** Persistence timeout in seconds. */
  timeout: number;
  /** Persistence granularity as a prefix length: 32 (IPv4) or 128 (IPv6) means per client. */
  netmask: number;
  /** Persistence engine ('' for none; the kernel has only 'sip'). */
  persistenceEngine: string;
}

export interface Destination {
  /** Family of the real server's address; differs from the service's only for tunnels. */
  family: AddressFamily;
  address: string;
  port: number;
  forward: ForwardMethod;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
  tunnelType: TunnelType;
  tunnelPort: number;
  tunnelChecksum: TunnelChecksum;
}

/** 64-bit counters and the kernel's rate estimates (per second). */
export interface Stats {
  connections: bigint;
  inPackets: bigint;
  outPackets: bigint;
  inBytes: bigint;
  outBytes: bigint;
  connectionRate: bigint;
  inPacketRate: bigint;
  outPacketRate: bigint;
  inByteRate: bigint;
  outByteRate: bigint;
}

export interface ServiceState extends Service {
  stats: Stats;
}

export interface DestinationState extends Destination {
  activeConnections: number;
  inactiveConnections: number;
  persistentConnections: number;
  stats: Stats;
}

/** A service and its destinations: one entry of a desired or observed table. */
export interface ServiceEntry<S extends Service = Service, D extends Destination = Destination> {
  service: S;
  destinations: D[];
}

export interface Timeouts {
  /** Seconds; 0 in a set request means "leave unchanged". */
  tcp: number;
  tcpFin: number;
  udp: number;
}

export type SyncDaemonState = 'master' | 'backup';

export interface SyncDaemon {
  state: SyncDaemonState;
  interface: string;
  syncId: number;
  /** Maximum sync message length; 0 lets the kernel choose from the MTU. */
  maxLength: number;
  /** Multicast group and port the kernel uses; '' and 0 mean the kernel's defaults (224.0.0.81:8848). */
  group: string;
  port: number;
  ttl: number;
}

export interface IpvsInfo {
  /** e.g. "1.2.1" */
  version: string;
  connectionTableSize: number;
}

const noFlags: Readonly<ServiceFlags> = Object.freeze({
  persistent: false,
  onePacket: false,
  sched1: false,
  sched2: false,
  sched3: false,
});

function fullPrefix(family: AddressFamily): number {
  return family === 'inet' ? 32 : 128;
}

function unspecifiedAddress(family: AddressFamily): string {
  return family === 'inet' ? '0.0.0.0' : '::';
}

/** A service with the kernel's defaults for everything not given. */
export function service(
  fields: Partial<Omit<Service, 'flags'>> & Pick<Service, 'scheduler'> & { flags?: Partial<ServiceFlags> },
): Service {
  const family = fields.family ?? 'inet';
  return {
    family,
    protocol: fields.protocol ?? 'tcp',
    address: fields.address ?? unspecifiedAddress(family),
    port: fields.port ?? 0,
    fwmark: fields.fwmark ?? 0,
    scheduler: fields.scheduler,
    flags: { ...noFlags, ...fields.flags },
    timeout: fields.timeout ?? 0,
    netmask: fields.netmask ?? fullPrefix(family),
    persistenceEngine: fields.persistenceEngine ?? '',
  };
}

/** A destination with the kernel's defaults for everything not given. */
export function destination(fields: Partial<Destination> & Pick<Destination, 'address'>): Destination {
  return {
    family: fields.family ?? (fields.address.includes(':') ? 'inet6' : 'inet'),
    address: fields.address,
    port: fields.port ?? 0,
    forward: fields.forward ?? 'masq',
    weight: fields.weight ?? 1,
    upperThreshold: fields.upperThreshold ?? 0,
    lowerThreshold: fields.lowerThreshold ?? 0,
    tunnelType: fields.tunnelType ?? 'ipip',
    tunnelPort: fields.tunnelPort ?? 0,
    tunnelChecksum: fields.tunnelChecksum ?? 'nocsum',
  };
}

/** Identity of a service in the kernel: what GET/EDIT/DEL address it by. */
export function serviceKey(s: Pick<Service, 'family' | 'protocol' | 'address' | 'port' | 'fwmark'>): string {
  return s.fwmark !== 0
    ? `fwmark:${s.family}:${s.fwmark}`
    : `${s.protocol}:${hostPort(s.address, s.port)}`;
}

/** Identity of a destination within its service. */
export function destinationKey(d: Pick<Destination, 'address' | 'port'>): string {
  return hostPort(d.address, d.port);
}

/** `10.0.0.1:80`, `[2001:db8::1]:80`: the form ipvsadm prints and operators type. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The settings that EDIT_SERVICE can change in place (everything but the identity). */
export function serviceSettingsEqual(a: Service, b: Service): boolean {
  return (
    a.scheduler === b.scheduler &&
    a.flags.persistent === b.flags.persistent &&
    a.flags.onePacket === b.flags.onePacket &&
    a.flags.sched1 === b.flags.sched1 &&
    a.flags.sched2 === b.flags.sched2 &&
    a.flags.sched3 === b.flags.sched3 &&
    a.timeout === b.timeout &&
    a.netmask === b.netmask &&
    a.persistenceEngine === b.persistenceEngine
  );
}

/** The settings that EDIT_DEST can change in place. */
export function destinationSettingsEqual(a: Destination, b: Destination): boolean {
  return (
    a.forward === b.forward &&
    a.weight === b.weight &&
    a.upperThreshold === b.upperThreshold &&
    a.lowerThreshold === b.lowerThreshold &&
    (a.forward !== 'tunnel' ||
      (a.tunnelType === b.tunnelType &&
        a.tunnelPort === b.tunnelPort &&
        a.tunnelChecksum === b.tunnelChecksum))
  );
}
