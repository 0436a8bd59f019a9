// Telling the segment that a VIP moved: a gratuitous ARP request per IPv4 VIP (sender = target =
// VIP, broadcast) over a packet socket, and an unsolicited neighbour advertisement per IPv6 VIP
// (override flag, to ff02::1, hop limit 255) over an ICMPv6 raw socket.
import {
  AF_INET6,
  AF_PACKET,
  ARPHRD_ETHER,
  ETH_P_ARP,
  IPPROTO_ICMPV6,
  IPPROTO_IPV6,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_UNICAST_HOPS,
  NativeSocket,
  SO_BINDTODEVICE,
  SOCK_DGRAM,
  SOCK_RAW,
  SOL_SOCKET,
  interfaceIndex,
  parseSockaddr,
  sockaddrIn,
  sockaddrLinkLayer,
} from '../native/index.js';
import { parseAddress } from '../netlink/address.js';

const BROADCAST_MAC = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const ALL_NODES = 'ff02::1';
const ARPOP_REQUEST = 1;
const ND_NEIGHBOR_ADVERT = 136;
const ND_NA_FLAG_OVERRIDE = 0x20000000;
const ND_OPT_TARGET_LINKADDR = 2;

export class GratuitousArpError extends Error {
  readonly code = 'EGARP';
}

/** The 28-byte ARP request announcing `address` at `mac` (the kernel adds the Ethernet header). */
export function encodeGratuitousArp(mac: Buffer, address: string): Buffer {
  const ip = parseAddress(address);
  if (ip.family !== 'inet') throw new GratuitousArpError(`gratuitous ARP is for IPv4 addresses, not ${address}`);
  if (mac.length !== 6) throw new GratuitousArpError(`an Ethernet address has 6 bytes, not ${mac.length}`);
  const buf = Buffer.alloc(28);
  buf.writeUInt16BE(ARPHRD_ETHER, 0);
  buf.writeUInt16BE(0x0800, 2);
  buf[4] = 6;
  buf[5] = 4;
  buf.writeUInt16BE(ARPOP_REQUEST, 6);
  mac.copy(buf, 8);
  ip.bytes.copy(buf, 14);
  BROADCAST_MAC.copy(buf, 18);
  ip.bytes.copy(buf, 24);
  return buf;
}

/** ICMPv6 neighbour advertisement (override, unsolicited) with the target link-layer option; the kernel checksums it. */
export function encodeUnsolicitedNeighbourAdvert(mac: Buffer, address: string): Buffer {
  const ip = parseAddress(address);
  if (ip.family !== 'inet6') throw new GratuitousArpError(`a neighbour advertisement is for IPv6 addresses, not ${address}`);
  if (mac.length !== 6) throw new GratuitousArpError(`an Ethernet address has 6 bytes, not ${mac.length}`);
  const buf = Buffer.alloc(32);
  buf[0] = ND_NEIGHBOR_ADVERT;
  buf.writeUInt32BE(ND_NA_FLAG_OVERRIDE, 4);
  ip.bytes.copy(buf, 8);
  buf[24] = ND_OPT_TARGET_LINKADDR;
  buf[25] = 1; // length in units of 8 bytes
  mac.copy(buf, 26);
  return buf;
}

/** What the instance needs: announce these VIPs `repeat` times. A fake in tests. */
export interface Announcer {
  announce(addresses: readonly string[], repeat: number): void;
}

/** GARP and unsolicited NA on one interface; sockets open on first use. */
export class InterfaceAnnouncer implements Announcer {
  private arp: { socket: NativeSocket; mac: Buffer; to: Buffer } | undefined;
  private ndisc: NativeSocket | undefined;
  /** Packets the kernel refused (e.g. the link is down), by family. */
  readonly failures = { arp: 0, ndisc: 0 };
  sent = 0;

  constructor(readonly interfaceName: string) {}

  announce(addresses: readonly string[], repeat: number): void {
    for (let i = 0; i < repeat; i++) {
      for (const address of addresses) {
        if (parseAddress(address).family === 'inet') this.sendArp(address);
        else this.sendNeighbourAdvert(address);
      }
    }
  }

  close(): void {
    this.arp?.socket.close();
    this.ndisc?.close();
    this.arp = undefined;
    this.ndisc = undefined;
  }

  private sendArp(address: string): void {
    try {
      const arp = this.openArp();
      arp.socket.send(encodeGratuitousArp(arp.mac, address), arp.to);
      this.sent++;
    } catch {
      this.failures.arp++;
    }
  }

  private sendNeighbourAdvert(address: string): void {
    try {
      const socket = this.openNdisc();
      const mac = this.openArp().mac;
      socket.send(encodeUnsolicitedNeighbourAdvert(mac, address), sockaddrIn(ALL_NODES, 0, interfaceIndex(this.interfaceName)));
      this.sent++;
    } catch {
      this.failures.ndisc++;
    }
  }

  private openArp(): { socket: NativeSocket; mac: Buffer; to: Buffer } {
    if (this.arp) return this.arp;
    const ifindex = interfaceIndex(this.interfaceName);
    // Protocol 0: this socket only sends, so it should not receive every ARP on the segment.
    const socket = NativeSocket.open(AF_PACKET, SOCK_DGRAM, 0);
    try {
      socket.bind(sockaddrLinkLayer({ protocol: 0, ifindex }));
      const self = parseSockaddr(socket.getsockname());
      if (self.family !== 'packet' || self.address.length !== 6) throw new GratuitousArpError(`${this.interfaceName} has no Ethernet address`);
      const to = sockaddrLinkLayer({ protocol: ETH_P_ARP, ifindex, hatype: ARPHRD_ETHER, address: BROADCAST_MAC });
      this.arp = { socket, mac: self.address, to };
      return this.arp;
    } catch (err) {
      socket.close();
      throw err;
    }
  }

  private openNdisc(): NativeSocket {
    if (this.ndisc) return this.ndisc;
    const socket = NativeSocket.open(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    try {
      socket.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${this.interfaceName}\0`));
      socket.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255); // RFC 4861 §7.1.2: receivers drop anything else
      socket.setsockopt(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255);
      socket.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, interfaceIndex(this.interfaceName));
      this.ndisc = socket;
      return socket;
    } catch (err) {
      socket.close();
      throw err;
    }
  }
}
