// rtnetlink link and address messages: struct ifinfomsg / struct ifaddrmsg and their attributes.
import { constants } from 'node:os';
import { parseAttributes, readString, readU32, attr, stringAttr, u32Attr } from './attributes.js';
import { formatAddress, parseAddress, type AddressFamily } from './address.js';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  IFF_RUNNING,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_EXT_MASK,
  IFLA_IFNAME,
  IFLA_MTU,
  RT_SCOPE_UNIVERSE,
  RTEXT_FILTER_VF,
} from './constants.js';
import { NetlinkError, NetlinkParseError } from './errors.js';

const IFINFOMSG_SIZE = 16;
const IFADDRMSG_SIZE = 8;
const { EINVAL } = constants.errno;

export interface Link {
  index: number;
  name: string;
  up: boolean;
  running: boolean;
  mtu: number;
  /** Hardware address; null for links without one. */
  address: Buffer | null;
  /** ARPHRD_* (1 Ethernet, 772 loopback). */
  type: number;
}

export interface InterfaceAddress {
  family: AddressFamily;
  ifindex: number;
  /** IFA_ADDRESS: the address, or the peer's on a point-to-point link. */
  address: string;
  prefixLength: number;
  /** IFA_LOCAL: our end, when the kernel reports it (IPv4 always, IPv6 on point-to-point). */
  local?: string;
  label?: string;
  scope: number;
  flags: number;
  broadcast?: string;
}

export interface AddressSpec {
  ifindex: number;
  address: string;
  prefixLength: number;
  /** IPv4 only; the kernel wants the interface name or "name:suffix". */
  label?: string;
  scope?: number;
  broadcast?: string;
  /** IFA_F_* flags, e.g. IFA_F_NODAD for an IPv6 VIP. */
  flags?: number;
}

const familyCode = { inet: AF_INET, inet6: AF_INET6 } as const;

export function ifinfomsg(index = 0): Buffer {
  const out = Buffer.alloc(IFINFOMSG_SIZE);
  out.writeUInt8(AF_UNSPEC, 0);
  out.writeInt32LE(index, 4);
  return out;
}

/** RTM_GETLINK payload; per-VF details left out so one link fits a datagram. */
export function getLinkPayload(nameOrIndex?: string | number): Buffer[] {
  const parts = [ifinfomsg(typeof nameOrIndex === 'number' ? nameOrIndex : 0), u32Attr(IFLA_EXT_MASK, RTEXT_FILTER_VF)];
  if (typeof nameOrIndex === 'string') parts.push(stringAttr(IFLA_IFNAME, nameOrIndex));
  return parts;
}

export function decodeLink(payload: Buffer): Link {
  if (payload.length < IFINFOMSG_SIZE) {
    throw new NetlinkParseError(`a link message needs ${IFINFOMSG_SIZE} bytes, it has ${payload.length}`);
  }
  const flags = payload.readUInt32LE(8);
  const a = parseAttributes(payload, IFINFOMSG_SIZE);
  const name = a.get(IFLA_IFNAME);
  const mtu = a.get(IFLA_MTU);
  const address = a.get(IFLA_ADDRESS);
  return {
    index: payload.readInt32LE(4),
    name: name ? readString(name) : '',
    up: (flags & IFF_UP) !== 0,
    running: (flags & IFF_RUNNING) !== 0,
    mtu: mtu ? readU32(mtu) : 0,
    address: address && address.length > 0 ? Buffer.from(address) : null,
    type: payload.readUInt16LE(2),
  };
}

export function ifaddrmsg(family: number, prefixLength: number, scope: number, ifindex: number): Buffer {
  const out = Buffer.alloc(IFADDRMSG_SIZE);
  out.writeUInt8(family, 0);
  out.writeUInt8(prefixLength, 1);
  out.writeUInt8(scope, 3);
  out.writeUInt32LE(ifindex, 4);
  return out;
}

/** RTM_GETADDR dump payload; the kernel filters by family, callers filter the rest. */
export function getAddressesPayload(family?: AddressFamily): Buffer {
  return ifaddrmsg(family ? familyCode[family] : AF_UNSPEC, 0, 0, 0);
}

/** Throws EINVAL unless prefixLength fits the family (0..32 or 0..128). */
export function checkPrefix(family: AddressFamily, prefixLength: number): void {
  const max = family === 'inet' ? 32 : 128;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > max) {
    throw new NetlinkError(EINVAL, `prefix length ${prefixLength} is outside 0..${max}`);
  }
}

/** RTM_NEWADDR payload: IFA_LOCAL and IFA_ADDRESS both hold the address, as `ip addr add` sends. */
export function newAddressPayload(spec: AddressSpec): Buffer[] {
  const { family, bytes } = parseAddress(spec.address);
  checkPrefix(family, spec.prefixLength);
  const parts = [
    ifaddrmsg(familyCode[family], spec.prefixLength, spec.scope ?? RT_SCOPE_UNIVERSE, spec.ifindex),
    attr(IFA_LOCAL, bytes),
    attr(IFA_ADDRESS, bytes),
  ];
  if (spec.label !== undefined) {
    if (family !== 'inet') throw new NetlinkError(EINVAL, 'interface labels exist only for IPv4 addresses');
    parts.push(stringAttr(IFA_LABEL, spec.label));
  }
  if (spec.broadcast !== undefined) {
    const broadcast = parseAddress(spec.broadcast);
    if (broadcast.family !== 'inet' || family !== 'inet') {
      throw new NetlinkError(EINVAL, 'a broadcast address exists only for IPv4');
    }
    parts.push(attr(IFA_BROADCAST, broadcast.bytes));
  }
  if (spec.flags !== undefined) parts.push(u32Attr(IFA_FLAGS, spec.flags));
  return parts;
}

export function deleteAddressPayload(spec: Pick<AddressSpec, 'ifindex' | 'address' | 'prefixLength'>): Buffer[] {
  const { family, bytes } = parseAddress(spec.address);
  checkPrefix(family, spec.prefixLength);
  return [
    ifaddrmsg(familyCode[family], spec.prefixLength, 0, spec.ifindex),
    attr(IFA_LOCAL, bytes),
    attr(IFA_ADDRESS, bytes),
  ];
}

/** undefined for families other than IPv4 and IPv6. */
export function decodeAddress(payload: Buffer): InterfaceAddress | undefined {
  if (payload.length < IFADDRMSG_SIZE) {
    throw new NetlinkParseError(`an address message needs ${IFADDRMSG_SIZE} bytes, it has ${payload.length}`);
  }
  const code = payload.readUInt8(0);
  const family = code === AF_INET ? 'inet' : code === AF_INET6 ? 'inet6' : undefined;
  if (!family) return undefined;
  const a = parseAttributes(payload, IFADDRMSG_SIZE);
  const address = a.get(IFA_ADDRESS) ?? a.get(IFA_LOCAL);
  if (!address) throw new NetlinkParseError('an address message carries neither IFA_ADDRESS nor IFA_LOCAL');
  const flags = a.get(IFA_FLAGS);
  const out: InterfaceAddress = {
    family,
    ifindex: payload.readUInt32LE(4),
    address: formatAddress(address),
    prefixLength: payload.readUInt8(1),
    scope: payload.readUInt8(3),
    // IFA_FLAGS holds all 32 bits; the header's byte only the low 8.
    flags: flags ? readU32(flags) : payload.readUInt8(2),
  };
  const local = a.get(IFA_LOCAL);
  if (local) out.local = formatAddress(local);
  const label = a.get(IFA_LABEL);
  if (label) out.label = readString(label);
  const broadcast = a.get(IFA_BROADCAST);
  if (broadcast) out.broadcast = formatAddress(broadcast);
  return out;
}
