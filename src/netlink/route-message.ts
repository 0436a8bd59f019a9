// RTM_NEWROUTE / RTM_DELROUTE payloads: struct rtmsg and its attributes, laid out as `ip route`
// sends them (RTA_DST, RTA_TABLE, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_OIF, RTA_MULTIPATH).
import { constants } from 'node:os';
import { attr, u32Attr } from './attributes.js';
import { parseAddress, type AddressFamily } from './address.js';
import { AF_INET, AF_INET6, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL } from './constants.js';
import { NetlinkError } from './errors.js';
import { checkPrefix } from './rtnetlink-codec.js';
import {
  RT_SCOPE_NOWHERE,
  RT_TABLE_UNSPEC,
  RTA_DST,
  RTA_GATEWAY,
  RTA_MULTIPATH,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTN_UNICAST,
  RTN_UNSPEC,
} from './route-constants.js';

const RTMSG_SIZE = 12;
const RTNEXTHOP_SIZE = 8;
const { EINVAL } = constants.errno;

/** One path of a multipath route. */
export interface NexthopSpec {
  gateway?: string;
  ifindex?: number;
  /** 1..256; the kernel keeps weight - 1. */
  weight?: number;
  /** RTNH_F_* flags, e.g. RTNH_F_ONLINK. */
  flags?: number;
}

/** A route as the kernel takes it; names (tables, scopes, devices) are already numbers. */
export interface RouteSpec {
  family: AddressFamily;
  /** The destination network; with prefixLength 0 the default route. */
  destination: string;
  prefixLength: number;
  table: number;
  protocol: number;
  scope: number;
  /** RTN_* (unicast, local, blackhole, unreachable, prohibit, throw). */
  type: number;
  tos?: number;
  /** rtm_flags, e.g. RTNH_F_ONLINK. */
  flags?: number;
  gateway?: string;
  ifindex?: number;
  /** `src`: the source address for traffic this route sends. */
  preferredSource?: string;
  metric?: number;
  /** Two or more paths (RTA_MULTIPATH); then gateway and ifindex stay unset. */
  nexthops?: readonly NexthopSpec[];
}

/** How a new route meets an existing one to the same destination: keepalived's prepend (the default), add, append. */
export type RouteAddMode = 'prepend' | 'add' | 'append';

const familyCode = { inet: AF_INET, inet6: AF_INET6 } as const;

/** nlmsg_flags for RTM_NEWROUTE, as `ip route prepend|add|append` sends them. */
export function routeAddFlags(mode: RouteAddMode): number {
  if (mode === 'add') return NLM_F_CREATE | NLM_F_EXCL;
  if (mode === 'append') return NLM_F_CREATE | NLM_F_APPEND;
  return NLM_F_CREATE;
}

function rtmsg(spec: RouteSpec, scope: number, type: number): Buffer {
  const out = Buffer.alloc(RTMSG_SIZE);
  out.writeUInt8(familyCode[spec.family], 0);
  out.writeUInt8(spec.prefixLength, 1);
  out.writeUInt8(spec.tos ?? 0, 3);
  out.writeUInt8(spec.table < 256 ? spec.table : RT_TABLE_UNSPEC, 4);
  out.writeUInt8(spec.protocol, 5);
  out.writeUInt8(scope, 6);
  out.writeUInt8(type, 7);
  out.writeUInt32LE(spec.flags ?? 0, 8);
  return out;
}

function addressOf(family: AddressFamily, text: string, what: string): Buffer {
  const parsed = parseAddress(text);
  if (parsed.family !== family) throw new NetlinkError(EINVAL, `the ${what} ${text} is not an ${family === 'inet' ? 'IPv4' : 'IPv6'} address`);
  return parsed.bytes;
}

function attributes(spec: RouteSpec): Buffer[] {
  checkPrefix(spec.family, spec.prefixLength);
  const destination = addressOf(spec.family, spec.destination, 'destination');
  const parts: Buffer[] = [];
  if (spec.prefixLength > 0) parts.push(attr(RTA_DST, destination));
  if (spec.table >= 256) parts.push(u32Attr(RTA_TABLE, spec.table));
  if (spec.gateway !== undefined) parts.push(attr(RTA_GATEWAY, addressOf(spec.family, spec.gateway, 'gateway')));
  if (spec.metric !== undefined) parts.push(u32Attr(RTA_PRIORITY, spec.metric));
  if (spec.preferredSource !== undefined) parts.push(attr(RTA_PREFSRC, addressOf(spec.family, spec.preferredSource, 'source')));
  if (spec.ifindex !== undefined) parts.push(u32Attr(RTA_OIF, spec.ifindex));
  if (spec.nexthops && spec.nexthops.length > 0) parts.push(attr(RTA_MULTIPATH, Buffer.concat(spec.nexthops.map((n) => rtnexthop(spec.family, n)))));
  return parts;
}

// struct rtnexthop (length, flags, hops = weight - 1, ifindex) followed by the path's RTA_GATEWAY.
function rtnexthop(family: AddressFamily, nexthop: NexthopSpec): Buffer {
  const weight = nexthop.weight ?? 1;
  if (!Number.isInteger(weight) || weight < 1 || weight > 256) throw new NetlinkError(EINVAL, `nexthop weight ${weight} is outside 1..256`);
  const gateway = nexthop.gateway === undefined ? undefined : attr(RTA_GATEWAY, addressOf(family, nexthop.gateway, 'gateway'));
  const out = Buffer.alloc(RTNEXTHOP_SIZE + (gateway?.length ?? 0));
  out.writeUInt16LE(out.length, 0);
  out.writeUInt8(nexthop.flags ?? 0, 2);
  out.writeUInt8(weight - 1, 3);
  out.writeInt32LE(nexthop.ifindex ?? 0, 4);
  gateway?.copy(out, RTNEXTHOP_SIZE);
  return out;
}

export function newRoutePayload(spec: RouteSpec): Buffer[] {
  const parts = attributes(spec);
  return [rtmsg(spec, spec.scope, spec.type), ...parts];
}

/** Matches only the route we added: same table, protocol, type and attributes; any scope (as `ip route del`). */
export function deleteRoutePayload(spec: RouteSpec): Buffer[] {
  const parts = attributes(spec);
  return [rtmsg(spec, RT_SCOPE_NOWHERE, spec.type === RTN_UNICAST ? RTN_UNSPEC : spec.type), ...parts];
}
