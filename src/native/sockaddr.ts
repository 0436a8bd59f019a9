// Raw socket addresses as the kernel lays them out (<netinet/in.h>, <linux/netlink.h>,
// <linux/if_packet.h>). The family field is in host order (little-endian on x86_64); ports and
// the packet protocol are in network order.
import { formatAddress, InvalidAddressError, parseAddress } from '../netlink/address.js';
import { AF_INET, AF_INET6, AF_NETLINK, AF_PACKET } from './constants.js';

export { InvalidAddressError };

export type SocketAddress =
  | { family: 'inet'; address: string; port: number }
  | { family: 'inet6'; address: string; port: number; scopeId: number }
  | { family: 'netlink'; pid: number; groups: number }
  | { family: 'packet'; protocol: number; ifindex: number; hatype: number; pkttype: number; address: Buffer };

const SOCKADDR_IN_SIZE = 16;
const SOCKADDR_IN6_SIZE = 28;
const SOCKADDR_NL_SIZE = 12;
const SOCKADDR_LL_SIZE = 20;
const LL_ADDRESS_MAX = 8;

function checkInteger(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidAddressError(`${what} must be an integer 0..${max}, got ${value}`);
  }
  return value;
}

/**
 * sockaddr_in or sockaddr_in6, chosen by the address form. An IPv6 scope comes from a numeric
 * zone (`fe80::1%3`) or `scopeId`; interface names are resolved by the caller (interfaceIndex).
 */
export function sockaddrIn(address: string, port = 0, scopeId?: number): Buffer {
  checkInteger(port, 0xffff, 'port');
  const zoneAt = address.indexOf('%');
  const host = zoneAt < 0 ? address : address.slice(0, zoneAt);
  const { family, bytes } = parseAddress(host);
  if (family === 'inet') {
    if (scopeId !== undefined || zoneAt >= 0) throw new InvalidAddressError(`IPv4 address ${address} cannot have a scope id`);
    const buf = Buffer.alloc(SOCKADDR_IN_SIZE);
    buf.writeUInt16LE(AF_INET, 0);
    buf.writeUInt16BE(port, 2);
    bytes.copy(buf, 4);
    return buf;
  }
  let scope = scopeId ?? 0;
  if (zoneAt >= 0) {
    const zone = address.slice(zoneAt + 1);
    if (!/^[0-9]+$/.test(zone)) {
      throw new InvalidAddressError(`IPv6 zone in ${address} must be an interface index (resolve names first)`);
    }
    if (scopeId !== undefined && scopeId !== Number(zone)) {
      throw new InvalidAddressError(`IPv6 zone in ${address} contradicts scope id ${scopeId}`);
    }
    scope = Number(zone);
  }
  checkInteger(scope, 0xffffffff, 'IPv6 scope id');
  const buf = Buffer.alloc(SOCKADDR_IN6_SIZE);
  buf.writeUInt16LE(AF_INET6, 0);
  buf.writeUInt16BE(port, 2);
  // sin6_flowinfo (offset 4) stays 0.
  bytes.copy(buf, 8);
  buf.writeUInt32LE(scope, 24);
  return buf;
}

/** sockaddr_nl: pid 0 addresses the kernel (or lets it pick ours on bind); groups is a bit mask. */
export function sockaddrNetlink(pid = 0, groups = 0): Buffer {
  const buf = Buffer.alloc(SOCKADDR_NL_SIZE);
  buf.writeUInt16LE(AF_NETLINK, 0);
  buf.writeUInt32LE(checkInteger(pid, 0xffffffff, 'netlink pid'), 4);
  buf.writeUInt32LE(checkInteger(groups, 0xffffffff, 'netlink groups'), 8);
  return buf;
}

/** sockaddr_ll; `protocol` is an ETH_P_* value in host order (written big-endian as the kernel wants). */
export function sockaddrLinkLayer(opts: {
  protocol: number;
  ifindex: number;
  hatype?: number;
  pkttype?: number;
  address?: Buffer;
}): Buffer {
  const address = opts.address ?? Buffer.alloc(0);
  if (address.length > LL_ADDRESS_MAX) {
    throw new InvalidAddressError(`link-layer address is ${address.length} bytes, at most ${LL_ADDRESS_MAX} fit`);
  }
  const buf = Buffer.alloc(SOCKADDR_LL_SIZE);
  buf.writeUInt16LE(AF_PACKET, 0);
  buf.writeUInt16BE(checkInteger(opts.protocol, 0xffff, 'protocol'), 2);
  buf.writeInt32LE(checkInteger(opts.ifindex, 0x7fffffff, 'ifindex'), 4);
  buf.writeUInt16LE(checkInteger(opts.hatype ?? 0, 0xffff, 'hatype'), 8);
  buf.writeUInt8(checkInteger(opts.pkttype ?? 0, 0xff, 'pkttype'), 10);
  buf.writeUInt8(address.length, 11);
  address.copy(buf, 12);
  return buf;
}

function need(buf: Buffer, size: number, what: string): void {
  if (buf.length < size) throw new InvalidAddressError(`${what} needs ${size} bytes, got ${buf.length}`);
}

export function parseSockaddr(buf: Buffer): SocketAddress {
  need(buf, 2, 'sockaddr');
  const family = buf.readUInt16LE(0);
  switch (family) {
    case AF_INET:
      need(buf, 8, 'sockaddr_in');
      return { family: 'inet', address: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port: buf.readUInt16BE(2) };
    case AF_INET6:
      need(buf, SOCKADDR_IN6_SIZE, 'sockaddr_in6');
      return {
        family: 'inet6',
        address: formatAddress(buf.subarray(8, 24)),
        port: buf.readUInt16BE(2),
        scopeId: buf.readUInt32LE(24),
      };
    case AF_NETLINK:
      need(buf, SOCKADDR_NL_SIZE, 'sockaddr_nl');
      return { family: 'netlink', pid: buf.readUInt32LE(4), groups: buf.readUInt32LE(8) };
    case AF_PACKET: {
      need(buf, 12, 'sockaddr_ll');
      const length = Math.min(buf.readUInt8(11), LL_ADDRESS_MAX, buf.length - 12);
      return {
        family: 'packet',
        protocol: buf.readUInt16BE(2),
        ifindex: buf.readInt32LE(4),
        hatype: buf.readUInt16LE(8),
        pkttype: buf.readUInt8(10),
        address: Buffer.from(buf.subarray(12, 12 + length)),
      };
    }
    default:
      throw new InvalidAddressError(`unsupported address family ${family}`);
  }
}
