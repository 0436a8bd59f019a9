// VRRP advertisements on the wire: v2 (RFC 3768 §5) and v3 (RFC 9568 §5), their IPv4 carrier,
// and the receive checks keepalived 2.2.7 applies (vrrp_check_packet), each failure a named reason.
import { parseAddress } from '../netlink/address.js';
import { internetChecksum, IPPROTO_VRRP, ipv4PseudoHeader, ipv6PseudoHeader } from './checksum.js';

export type VrrpVersion = 2 | 3;
export type AddressFamily = 4 | 6;

export const VRRP_TTL = 255;
export const VRRP_TYPE_ADVERTISEMENT = 1;
export const AUTH_NONE = 0;
export const AUTH_PASS = 1;
/** IPsec AH (RFC 2338): recognised on receive, never supported here. */
export const AUTH_AH = 2;
const HEADER_LENGTH = 8;
const AUTH_DATA_LENGTH = 8;

export interface VrrpAdvertisement {
  version: VrrpVersion;
  vrid: number;
  priority: number;
  /** v2 carries whole seconds, v3 centiseconds (12 bits); both are held here in milliseconds. */
  advertIntervalMs: number;
  /** Virtual addresses, all of the packet's family. */
  addresses: string[];
  /** v2 only (v3 has no authentication): AUTH_NONE or AUTH_PASS. */
  authType: number;
  /** v2 only: the 8-byte authentication field (see passwordBytes); empty for v3. */
  authData: Uint8Array;
}

/** The IP addresses the advertisement travels between (the v3 checksum covers them). */
export interface AdvertContext {
  source: string;
  destination: string;
}

export interface ReceiveContext extends AdvertContext {
  /** IPv4 TTL from the IP header, or IPv6 hop limit from ancillary data; undefined when unknown. */
  ttl: number | undefined;
}

export interface UnicastPeer {
  address: string;
  minTtl?: number;
  maxTtl?: number;
}

/** What one configured instance accepts. */
export interface VrrpExpectations {
  version: VrrpVersion;
  vrid: number;
  advertIntervalMs: number;
  /** The instance's virtual_ipaddress list (excluded addresses are not carried in adverts). */
  addresses: readonly string[];
  /** false skips the VIP-list comparison (skip_check_adv_addr for an advert from the known master). */
  checkAddresses?: boolean;
  authType?: number;
  authData?: Uint8Array;
  /** Non-empty means unicast mode: no TTL-255 rule, the destination must be unicast. */
  unicastPeers?: readonly UnicastPeer[];
  /** check_unicast_src: the source must be a configured peer (implied by a peer's min/max TTL). */
  checkUnicastSource?: boolean;
}

/** Why an advertisement was dropped; 'vrid-mismatch' is not an error, it belongs to another instance. */
export type AdvertDropReason =
  | 'length'
  | 'version'
  | 'type'
  | 'checksum'
  | 'vrid-mismatch'
  | 'ttl'
  | 'auth-type'
  | 'auth-mismatch'
  | 'interval'
  | 'address-list'
  | 'destination'
  | 'source';

export type AdvertResult =
  | { ok: true; advert: VrrpAdvertisement }
  | { ok: false; reason: AdvertDropReason; detail: string };

export type Ipv4DropReason = 'truncated' | 'not-ipv4' | 'header-length' | 'total-length' | 'protocol';

export interface Ipv4Packet {
  ttl: number;
  protocol: number;
  source: string;
  destination: string;
  /** The VRRP message: bytes after the IP header up to the IP total length (link padding removed). */
  payload: Buffer;
}

export type Ipv4Result =
  | { ok: true; packet: Ipv4Packet }
  | { ok: false; reason: Ipv4DropReason; detail: string };

export class VrrpPacketError extends Error {
  readonly code = 'EVRRPPACKET';
}

/** Network-order bytes of an IPv4 or IPv6 address; throws VrrpPacketError on anything else. */
export function addressBytes(address: string): Uint8Array {
  const bytes = parseIp(address);
  if (!bytes) throw new VrrpPacketError(`not an IP address: "${address}"`);
  return bytes;
}

/** Canonical text form (dotted quad, or RFC 5952 IPv6). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Numeric order of two addresses of one family (the RFC's "primary IP address" tie-break). */
export function compareAddresses(a: string, b: string): number {
  const x = addressBytes(a);
  const y = addressBytes(b);
  if (x.length !== y.length) throw new VrrpPacketError(`cannot compare ${a} with ${b}: different families`);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

// Either family; an IPv6 zone index (fe80::1%eth0) does not change the address.
function parseIp(text: string): Uint8Array | undefined {
  try {
    return parseAddress(text.includes(':') ? text.split('%')[0]! : text).bytes;
  } catch {
    return undefined;
  }
}

function isMulticast(bytes: Uint8Array): boolean {
  return bytes.length === 4 ? (bytes[0]! & 0xf0) === 0xe0 : bytes[0] === 0xff;
}

/** The v2 PASS field: the password's first 8 bytes, zero-padded (as keepalived stores auth_pass). */
export function passwordBytes(password: string): Uint8Array {
  const field = new Uint8Array(AUTH_DATA_LENGTH);
  field.set(Buffer.from(password, 'utf8').subarray(0, AUTH_DATA_LENGTH));
  return field;
}

/** The VRRP message (no IP header) with its checksum filled in. */
export function encodeAdvertisement(ad: VrrpAdvertisement, ctx: AdvertContext): Buffer {
  const source = addressBytes(ctx.source);
  const destination = addressBytes(ctx.destination);
  const family: AddressFamily = source.length === 4 ? 4 : 6;
  if (destination.length !== source.length) throw new VrrpPacketError('source and destination differ in family');
  if (ad.version === 2 && family === 6) throw new VrrpPacketError('VRRPv2 carries IPv4 only');
  checkByte('vrid', ad.vrid, 1);
  checkByte('priority', ad.priority, 0);
  if (ad.addresses.length > 255) throw new VrrpPacketError(`${ad.addresses.length} addresses: at most 255 fit the count field`);

  const addressLength = family === 4 ? 4 : 16;
  const authLength = ad.version === 2 ? AUTH_DATA_LENGTH : 0;
  const buf = Buffer.alloc(HEADER_LENGTH + ad.addresses.length * addressLength + authLength);
  buf[0] = (ad.version << 4) | VRRP_TYPE_ADVERTISEMENT;
  buf[1] = ad.vrid;
  buf[2] = ad.priority;
  buf[3] = ad.addresses.length;
  if (ad.version === 2) {
    checkByte('authType', ad.authType, 0);
    buf[4] = ad.authType;
    buf[5] = wireInterval(ad);
  } else {
    buf.writeUInt16BE(wireInterval(ad), 4);
  }
  ad.addresses.forEach((address, i) => {
    const bytes = addressBytes(address);
    if (bytes.length !== addressLength) throw new VrrpPacketError(`${address} is not an IPv${family} address`);
    buf.set(bytes, HEADER_LENGTH + i * addressLength);
  });
  if (ad.version === 2) {
    if (ad.authData.length > AUTH_DATA_LENGTH) throw new VrrpPacketError('authentication data is longer than 8 bytes');
    buf.set(ad.authData, buf.length - AUTH_DATA_LENGTH);
  }
  buf.writeUInt16BE(internetChecksum(buf, pseudoHeader(ad.version, source, destination, buf.length)), 6);
  return buf;
}

function checkByte(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min || value > 255) throw new VrrpPacketError(`${name} ${value} is outside ${min}..255`);
}

// v2: 8-bit seconds; v3: 12-bit centiseconds.
function wireInterval(ad: VrrpAdvertisement): number {
  const unit = ad.version === 2 ? 1000 : 10;
  const max = ad.version === 2 ? 255 : 0xfff;
  const value = Math.round(ad.advertIntervalMs / unit);
  if (Math.abs(value * unit - ad.advertIntervalMs) > 1e-6 || value < 1 || value > max) {
    const range = ad.version === 2 ? 'a whole number of seconds in 1..255' : 'a multiple of 10 ms in 10..40950';
    throw new VrrpPacketError(`advert interval ${ad.advertIntervalMs} ms is not ${range} (VRRPv${ad.version})`);
  }
  return value;
}

// v2 checksums the VRRP message alone; v3 prepends the IP pseudo-header.
function pseudoHeader(version: VrrpVersion, source: Uint8Array, destination: Uint8Array, length: number): Uint8Array | undefined {
  if (version === 2) return undefined;
  return source.length === 4 ? ipv4PseudoHeader(source, destination, length) : ipv6PseudoHeader(source, destination, length);
}

/** The VRRP header's VRID, for dispatching to an instance before anything else is checked. */
export function peekVrid(payload: Uint8Array): number | undefined {
  return payload.length >= 2 ? payload[1] : undefined;
}

/** Structure and integrity only: supported version, exact length, checksum, type. Never throws. */
export function decodeAdvertisement(payload: Uint8Array, ctx: AdvertContext): AdvertResult {
  const source = parseIp(ctx.source);
  const destination = parseIp(ctx.destination);
  if (!source || !destination || source.length !== destination.length) {
    return drop('destination', `unusable addresses ${ctx.source} -> ${ctx.destination}`);
  }
  if (payload.length < HEADER_LENGTH) return drop('length', `${payload.length} bytes, shorter than the 8-byte header`);
  const version = payload[0]! >> 4;
  const family = source.length === 4 ? 4 : 6;
  if (version !== 2 && version !== 3) return drop('version', `version ${version} is not 2 or 3`);
  if (version === 2 && family === 6) return drop('version', 'VRRPv2 over IPv6');

  const count = payload[3]!;
  const addressLength = family === 4 ? 4 : 16;
  const expected = HEADER_LENGTH + count * addressLength + (version === 2 ? AUTH_DATA_LENGTH : 0);
  if (payload.length !== expected) {
    return drop('length', `${payload.length} bytes, but ${count} address(es) in VRRPv${version} make ${expected}`);
  }
  if (internetChecksum(payload, pseudoHeader(version, source, destination, payload.length)) !== 0) {
    return drop('checksum', `checksum 0x${hex16(payload, 6)} does not verify`);
  }
  const type = payload[0]! & 0x0f;
  if (type !== VRRP_TYPE_ADVERTISEMENT) return drop('type', `type ${type} is not 1 (ADVERTISEMENT)`);

  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = HEADER_LENGTH + i * addressLength;
    addresses.push(formatAddress(payload.subarray(at, at + addressLength)));
  }
  const advert: VrrpAdvertisement =
    version === 2
      ? {
          version,
          vrid: payload[1]!,
          priority: payload[2]!,
          advertIntervalMs: payload[5]! * 1000,
          addresses,
          authType: payload[4]!,
          authData: Uint8Array.from(payload.subarray(payload.length - AUTH_DATA_LENGTH)),
        }
      : {
          version,
          vrid: payload[1]!,
          priority: payload[2]!,
          advertIntervalMs: (((payload[4]! << 8) | payload[5]!) & 0x0fff) * 10,
          addresses,
          authType: AUTH_NONE,
          authData: new Uint8Array(0),
        };
  return { ok: true, advert };
}

function hex16(payload: Uint8Array, at: number): string {
  return (((payload[at]! << 8) | payload[at + 1]!) >>> 0).toString(16).padStart(4, '0');
}

function drop(reason: AdvertDropReason, detail: string): AdvertResult {
  return { ok: false, reason, detail };
}

/**
 * Every check keepalived 2.2.7 makes before an advert reaches the state machine. Order: VRID
 * (dispatch), version, structure (length, checksum, type), TTL, authentication, v2 interval,
 * multicast/unicast destination, unicast source, VIP list. Never throws.
 */
export function validateAdvertisement(payload: Uint8Array, ctx: ReceiveContext, want: VrrpExpectations): AdvertResult {
  if (payload.length < HEADER_LENGTH) return drop('length', `${payload.length} bytes, shorter than the 8-byte header`);
  if (payload[1] !== want.vrid) return drop('vrid-mismatch', `VRID ${payload[1]}, this instance is ${want.vrid}`);
  const version = payload[0]! >> 4;
  if (version !== want.version) return drop('version', `version ${version}, configured ${want.version}`);

  const decoded = decodeAdvertisement(payload, ctx);
  if (!decoded.ok) return decoded;
  const ad = decoded.advert;

  const peers = want.unicastPeers ?? [];
  const unicast = peers.length > 0;
  if (!unicast && ctx.ttl !== undefined && ctx.ttl !== VRRP_TTL) {
    return drop('ttl', `TTL/hop limit ${ctx.ttl}, multicast adverts must arrive with 255`);
  }

  if (ad.version === 2) {
    const ours = want.authType ?? AUTH_NONE;
    if (ad.authType !== ours) return drop('auth-type', `auth type ${ad.authType}, configured ${ours}`);
    if (ours === AUTH_PASS && !sameBytes(ad.authData, want.authData ?? new Uint8Array(AUTH_DATA_LENGTH))) {
      return drop('auth-mismatch', 'password does not match');
    }
    // RFC 3768 §7.1 MUST; keepalived drops to avoid two masters on one VRID.
    if (ad.advertIntervalMs !== want.advertIntervalMs) {
      return drop('interval', `advert interval ${ad.advertIntervalMs / 1000} s, ours ${want.advertIntervalMs / 1000} s`);
    }
  }

  if (isMulticast(addressBytes(ctx.destination)) === unicast) {
    return drop('destination', `${ctx.destination} is ${unicast ? 'multicast' : 'unicast'}, instance is ${unicast ? 'unicast' : 'multicast'}`);
  }

  if (unicast && (want.checkUnicastSource || peers.some((p) => p.minTtl !== undefined || p.maxTtl !== undefined))) {
    const source = addressBytes(ctx.source);
    const peer = peers.find((p) => {
      const bytes = parseIp(p.address);
      return bytes !== undefined && sameBytes(bytes, source);
    });
    if (!peer) return drop('source', `${ctx.source} is not a configured unicast peer`);
    const min = peer.minTtl ?? 0;
    const max = peer.maxTtl ?? 255;
    if (ctx.ttl !== undefined && (ctx.ttl < min || ctx.ttl > max)) {
      return drop('ttl', `TTL/hop limit ${ctx.ttl} outside ${min}..${max} for peer ${peer.address}`);
    }
  }

  // keepalived 2.2.7 drops (not merely counts) an advert whose VIP list differs from ours.
  if (want.checkAddresses !== false) {
    const mismatch = addressListMismatch(ad.addresses, want.addresses);
    if (mismatch) return drop('address-list', mismatch);
  }
  return decoded;
}

function addressListMismatch(received: readonly string[], configured: readonly string[]): string | undefined {
  if (received.length !== configured.length) {
    return `${received.length} address(es) in the advert, ${configured.length} configured`;
  }
  const have = new Set(received.map((a) => formatAddress(addressBytes(a))));
  const missing = configured.find((a) => {
    const bytes = parseIp(a);
    return !bytes || !have.has(formatAddress(bytes));
  });
  return missing === undefined ? undefined : `configured ${missing} is not in the advert`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0; // constant time, as for a password
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** A raw IPPROTO_VRRP socket delivers the IPv4 header too; split it off. Never throws. */
export function parseIpv4Packet(buf: Uint8Array): Ipv4Result {
  if (buf.length < 20) return ipDrop('truncated', `${buf.length} bytes, shorter than an IPv4 header`);
  if (buf[0]! >> 4 !== 4) return ipDrop('not-ipv4', `IP version ${buf[0]! >> 4}`);
  const headerLength = (buf[0]! & 0x0f) * 4;
  if (headerLength < 20) return ipDrop('header-length', `IHL ${headerLength / 4} is below 5`);
  if (buf.length < headerLength) return ipDrop('truncated', `${buf.length} bytes, header claims ${headerLength}`);
  const totalLength = (buf[2]! << 8) | buf[3]!;
  if (totalLength < headerLength || totalLength > buf.length) {
    return ipDrop('total-length', `total length ${totalLength}, received ${buf.length} with a ${headerLength}-byte header`);
  }
  const protocol = buf[9]!;
  if (protocol !== IPPROTO_VRRP) return ipDrop('protocol', `protocol ${protocol} is not VRRP (112)`);
  return {
    ok: true,
    packet: {
      ttl: buf[8]!,
      protocol,
      source: formatAddress(buf.subarray(12, 16)),
      destination: formatAddress(buf.subarray(16, 20)),
      payload: Buffer.from(buf.buffer, buf.byteOffset + headerLength, totalLength - headerLength),
    },
  };
}

function ipDrop(reason: Ipv4DropReason, detail: string): Ipv4Result {
  return { ok: false, reason, detail };
}
