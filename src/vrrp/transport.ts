// VRRP on the wire: one raw protocol-112 socket per (interface, family), shared by every instance
// on it and dispatched by VRID. IPv4 builds its own IP header (IP_HDRINCL) so each instance sends
// from its own source with TTL 255; IPv6 lets the kernel checksum (IPV6_CHECKSUM) and reports
// the hop limit and destination as ancillary data.
import {
  AF_INET,
  AF_INET6,
  IP_ADD_MEMBERSHIP,
  IP_HDRINCL,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IPPROTO_IPV6,
  IPPROTO_VRRP,
  IPV6_CHECKSUM,
  IPV6_HOPLIMIT,
  IPV6_JOIN_GROUP,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  IPV6_PKTINFO,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVPKTINFO,
  IPV6_UNICAST_HOPS,
  NativeSocket,
  SO_BINDTODEVICE,
  SOCK_RAW,
  SOL_IP,
  SOL_SOCKET,
  interfaceIndex,
  parseSockaddr,
  sockaddrIn,
  type ReceivedDatagram,
} from '../native/index.js';
import { parseAddress, formatAddress, type AddressFamily } from '../netlink/address.js';
import { parseIpv4Packet, peekVrid, VRRP_TTL } from './packet.js';

export const VRRP_GROUP_IPV4 = '224.0.0.18';
export const VRRP_GROUP_IPV6 = 'ff02::12';
const IPTOS_PREC_INTERNETCONTROL = 0xc0;
const VRRP_CHECKSUM_OFFSET = 6;

/** One advertisement as it arrived, before any VRRP check. */
export interface ReceivedPacket {
  payload: Buffer;
  source: string;
  destination: string;
  /** IPv4 TTL or IPv6 hop limit; undefined when the kernel did not say. */
  ttl: number | undefined;
}

export type PacketListener = (packet: ReceivedPacket) => void;

/** Why the link itself dropped a datagram before any instance saw it. */
export type LinkDropReason = 'truncated' | 'not-ipv4' | 'header-length' | 'total-length' | 'protocol' | 'no-source' | 'unknown-vrid' | 'receive-error';

export class VrrpTransportError extends Error {
  readonly code = 'EVRRPTRANSPORT';
}

/** The sending half an instance uses; a fake in tests. */
export interface AdvertSender {
  send(payload: Buffer, source: string, destination: string, ttl: number): void;
}

/** What an instance needs of a shared socket; VrrpLink, or a fake in tests. */
export interface RouterLink extends AdvertSender {
  readonly interfaceName: string;
  readonly ifindex: number;
  readonly family: AddressFamily;
  readonly drops: Partial<Record<LinkDropReason, number>>;
  readonly attached: number;
  join(group: string): void;
  attach(vrid: number, listener: PacketListener): () => void;
  close(): void;
}

export class VrrpLink implements RouterLink {
  readonly drops: Partial<Record<LinkDropReason, number>> = {};
  private readonly listeners = new Map<number, PacketListener>();
  private readonly groups = new Set<string>();

  private constructor(
    private readonly socket: NativeSocket,
    readonly interfaceName: string,
    readonly ifindex: number,
    readonly family: AddressFamily,
  ) {
    socket.on('messages', (datagrams: ReceivedDatagram[]) => {
      for (const d of datagrams) this.receive(d);
    });
    // e.g. ENOBUFS after a burst: the addon has drained the queue and keeps polling; count it.
    socket.on('error', () => this.count('receive-error'));
  }

  static open(interfaceName: string, family: AddressFamily): VrrpLink {
    const ifindex = interfaceIndex(interfaceName);
    const socket = NativeSocket.open(family === 'inet' ? AF_INET : AF_INET6, SOCK_RAW, IPPROTO_VRRP);
    try {
      // Only adverts that arrive on this interface (a raw socket otherwise sees every interface).
      socket.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${interfaceName}\0`));
      if (family === 'inet') {
        socket.setsockopt(SOL_IP, IP_HDRINCL, 1);
        socket.setsockopt(SOL_IP, IP_MULTICAST_TTL, VRRP_TTL); // IP_TTL does not apply to multicast
        socket.setsockopt(SOL_IP, IP_MULTICAST_LOOP, 0);
        socket.setsockopt(SOL_IP, IP_MULTICAST_IF, ipMreqn('0.0.0.0', ifindex));
      } else {
        socket.setsockopt(IPPROTO_IPV6, IPV6_CHECKSUM, VRRP_CHECKSUM_OFFSET);
        socket.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, VRRP_TTL);
        socket.setsockopt(IPPROTO_IPV6, IPV6_UNICAST_HOPS, VRRP_TTL);
        socket.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
        socket.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex);
        socket.setsockopt(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
        socket.setsockopt(IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
      }
      socket.start({ address: true, control: family === 'inet6', bufferSize: 2048, batch: 16 });
    } catch (err) {
      socket.close();
      throw err;
    }
    return new VrrpLink(socket, interfaceName, ifindex, family);
  }

  /** Joins a multicast group on this interface; without it nothing multicast arrives. */
  join(group: string): void {
    if (this.groups.has(group)) return;
    if (this.family === 'inet') this.socket.setsockopt(SOL_IP, IP_ADD_MEMBERSHIP, ipMreqn(group, this.ifindex));
    else this.socket.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, ipv6Mreq(group, this.ifindex));
    this.groups.add(group);
  }

  /** Delivers adverts for `vrid`; returns the function that stops it. */
  attach(vrid: number, listener: PacketListener): () => void {
    if (this.listeners.has(vrid)) throw new VrrpTransportError(`VRID ${vrid} is already in use on ${this.interfaceName} (${this.family})`);
    this.listeners.set(vrid, listener);
    return () => {
      if (this.listeners.get(vrid) === listener) this.listeners.delete(vrid);
    };
  }

  get attached(): number {
    return this.listeners.size;
  }

  send(payload: Buffer, source: string, destination: string, ttl: number): void {
    if (this.family === 'inet') {
      this.socket.send([ipv4Header(source, destination, payload.length, ttl), payload], sockaddrIn(destination));
      return;
    }
    const scoped = destination.toLowerCase().startsWith('fe80:') || destination.toLowerCase().startsWith('ff02:');
    this.socket.send(payload, sockaddrIn(destination, 0, scoped ? this.ifindex : undefined));
  }

  close(): void {
    this.listeners.clear();
    this.socket.close();
  }

  private receive(d: ReceivedDatagram): void {
    const packet = this.family === 'inet' ? this.fromIpv4(d) : this.fromIpv6(d);
    if (!packet) return;
    const vrid = peekVrid(packet.payload);
    const listener = vrid === undefined ? undefined : this.listeners.get(vrid);
    if (!listener) {
      this.count('unknown-vrid');
      return;
    }
    listener(packet);
  }

  private fromIpv4(d: ReceivedDatagram): ReceivedPacket | undefined {
    const parsed = parseIpv4Packet(d.data);
    if (!parsed.ok) {
      this.count(parsed.reason);
      return undefined;
    }
    const { payload, source, destination, ttl } = parsed.packet;
    return { payload, source, destination, ttl };
  }

  private fromIpv6(d: ReceivedDatagram): ReceivedPacket | undefined {
    if (!d.address) {
      this.count('no-source');
      return undefined;
    }
    const from = parseSockaddr(d.address);
    if (from.family !== 'inet6') {
      this.count('no-source');
      return undefined;
    }
    const ancillary = d.control ? parseIpv6Ancillary(d.control) : {};
    return { payload: d.data, source: from.address, destination: ancillary.destination ?? VRRP_GROUP_IPV6, ttl: ancillary.hopLimit };
  }

  private count(reason: LinkDropReason): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }
}

/**
 * The links of one process, shared by instances: opened on first use, closed with the last user.
 * Keyed by interface index too, so an interface deleted and created again gets a fresh socket.
 */
export class VrrpLinks {
  private readonly links = new Map<string, RouterLink>();

  constructor(private readonly open: (interfaceName: string, family: AddressFamily) => RouterLink = VrrpLink.open) {}

  acquire(interfaceName: string, ifindex: number, family: AddressFamily): RouterLink {
    const key = `${interfaceName}/${ifindex}/${family}`;
    let link = this.links.get(key);
    if (!link) {
      link = this.open(interfaceName, family);
      this.links.set(key, link);
    }
    return link;
  }

  /** Closes the link once no instance is attached to it. */
  release(link: RouterLink): void {
    if (link.attached > 0) return;
    link.close();
    for (const [key, l] of this.links) if (l === link) this.links.delete(key);
  }

  list(): RouterLink[] {
    return [...this.links.values()];
  }
}

export function ipMreqn(group: string, ifindex: number): Buffer {
  const buf = Buffer.alloc(12);
  parseAddress(group).bytes.copy(buf, 0);
  buf.writeInt32LE(ifindex, 8);
  return buf;
}

/** struct ipv6_mreq { in6_addr multiaddr; int ifindex }. */
export function ipv6Mreq(group: string, ifindex: number): Buffer {
  const buf = Buffer.alloc(20);
  parseAddress(group).bytes.copy(buf, 0);
  buf.writeInt32LE(ifindex, 16);
  return buf;
}

/** A 20-byte IPv4 header; the kernel fills in the id and the header checksum when they are 0. */
export function ipv4Header(source: string, destination: string, payloadLength: number, ttl: number): Buffer {
  const src = parseAddress(source);
  const dst = parseAddress(destination);
  if (src.family !== 'inet' || dst.family !== 'inet') throw new VrrpTransportError(`IPv4 header needs IPv4 addresses: ${source} -> ${destination}`);
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h[1] = IPTOS_PREC_INTERNETCONTROL;
  h.writeUInt16BE(20 + payloadLength, 2);
  h[8] = ttl;
  h[9] = IPPROTO_VRRP;
  src.bytes.copy(h, 12);
  dst.bytes.copy(h, 16);
  return h;
}

/** IPV6_HOPLIMIT and IPV6_PKTINFO out of a cmsg buffer (struct cmsghdr: u64 len, i32 level, i32 type). */
export function parseIpv6Ancillary(control: Buffer): { hopLimit?: number; destination?: string } {
  const out: { hopLimit?: number; destination?: string } = {};
  for (let at = 0; at + 16 <= control.length; ) {
    const length = Number(control.readBigUInt64LE(at));
    if (length < 16 || at + length > control.length) break;
    const level = control.readInt32LE(at + 8);
    const type = control.readInt32LE(at + 12);
    if (level === IPPROTO_IPV6 && type === IPV6_HOPLIMIT && length >= 20) out.hopLimit = control.readInt32LE(at + 16);
    if (level === IPPROTO_IPV6 && type === IPV6_PKTINFO && length >= 32) out.destination = formatAddress(control.subarray(at + 16, at + 32));
    at += (length + 7) & ~7;
  }
  return out;
}
