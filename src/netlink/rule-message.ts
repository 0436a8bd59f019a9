// RTM_NEWRULE / RTM_DELRULE payloads: struct fib_rule_hdr and its attributes, laid out as
// `ip rule` sends them for arguments in this order: from, to, table, preference, fwmark, iif, oif,
// goto, suppress_prefixlength, protocol.
import { attr, stringAttr, u32Attr, u8Attr } from './attributes.js';
import { parseAddress, type AddressFamily } from './address.js';
import { AF_INET, AF_INET6 } from './constants.js';
import { NetlinkError } from './errors.js';
import {
  FIB_RULE_INVERT,
  FR_ACT_TO_TBL,
  FR_ACT_UNSPEC,
  FRA_DST,
  FRA_FWMARK,
  FRA_FWMASK,
  FRA_GOTO,
  FRA_IIFNAME,
  FRA_OIFNAME,
  FRA_PRIORITY,
  FRA_PROTOCOL,
  FRA_SRC,
  FRA_SUPPRESS_PREFIXLEN,
  FRA_TABLE,
  RT_TABLE_UNSPEC,
} from './route-constants.js';

const FIB_RULE_HDR_SIZE = 12;
const EINVAL = 22;

export interface Prefix {
  address: string;
  prefixLength: number;
}

/** A policy-routing rule as the kernel takes it. */
export interface RuleSpec {
  family: AddressFamily;
  from?: Prefix;
  to?: Prefix;
  /** `not`: the rule matches what the selectors do not. */
  invert?: boolean;
  /** FR_ACT_* (to table, goto, nop, blackhole, unreachable, prohibit). */
  action: number;
  /** For FR_ACT_TO_TBL. */
  table?: number;
  /** For FR_ACT_GOTO: the preference of the rule to continue at. */
  goto?: number;
  preference?: number;
  fwmark?: number;
  fwmask?: number;
  /** Interface names; the kernel matches them by name, so they may not exist yet. */
  iif?: string;
  oif?: string;
  tos?: number;
  suppressPrefixLength?: number;
  protocol?: number;
}

const familyCode = { inet: AF_INET, inet6: AF_INET6 } as const;

function prefixBytes(family: AddressFamily, prefix: Prefix, what: string): Buffer {
  const parsed = parseAddress(prefix.address);
  if (parsed.family !== family) throw new NetlinkError(EINVAL, `the ${what} ${prefix.address} is not an ${family === 'inet' ? 'IPv4' : 'IPv6'} address`);
  const max = family === 'inet' ? 32 : 128;
  if (!Number.isInteger(prefix.prefixLength) || prefix.prefixLength < 0 || prefix.prefixLength > max) {
    throw new NetlinkError(EINVAL, `prefix length ${prefix.prefixLength} is outside 0..${max}`);
  }
  return parsed.bytes;
}

function payload(spec: RuleSpec, action: number): Buffer[] {
  const table = spec.table ?? 0;
  const header = Buffer.alloc(FIB_RULE_HDR_SIZE);
  header.writeUInt8(familyCode[spec.family], 0);
  header.writeUInt8(spec.to?.prefixLength ?? 0, 1);
  header.writeUInt8(spec.from?.prefixLength ?? 0, 2);
  header.writeUInt8(spec.tos ?? 0, 3);
  header.writeUInt8(table < 256 ? table : RT_TABLE_UNSPEC, 4);
  header.writeUInt8(action, 7);
  header.writeUInt32LE(spec.invert ? FIB_RULE_INVERT : 0, 8);
  const parts: Buffer[] = [header];
  // A /0 selector matches everything: `ip rule` leaves it out, and so does this.
  if (spec.from && spec.from.prefixLength > 0) parts.push(attr(FRA_SRC, prefixBytes(spec.family, spec.from, 'source')));
  if (spec.to && spec.to.prefixLength > 0) parts.push(attr(FRA_DST, prefixBytes(spec.family, spec.to, 'destination')));
  if (table >= 256) parts.push(u32Attr(FRA_TABLE, table));
  if (spec.preference !== undefined) parts.push(u32Attr(FRA_PRIORITY, spec.preference));
  if (spec.fwmark !== undefined) parts.push(u32Attr(FRA_FWMARK, spec.fwmark));
  if (spec.fwmask !== undefined) parts.push(u32Attr(FRA_FWMASK, spec.fwmask));
  if (spec.iif !== undefined) parts.push(stringAttr(FRA_IIFNAME, spec.iif));
  if (spec.oif !== undefined) parts.push(stringAttr(FRA_OIFNAME, spec.oif));
  if (spec.goto !== undefined) parts.push(u32Attr(FRA_GOTO, spec.goto));
  if (spec.suppressPrefixLength !== undefined) parts.push(u32Attr(FRA_SUPPRESS_PREFIXLEN, spec.suppressPrefixLength));
  if (spec.protocol !== undefined) parts.push(u8Attr(FRA_PROTOCOL, spec.protocol));
  return parts;
}

export function newRulePayload(spec: RuleSpec): Buffer[] {
  return payload(spec, spec.action);
}

/** As `ip rule del` sends it: a lookup rule is matched by its table, so its action is left unset. */
export function deleteRulePayload(spec: RuleSpec): Buffer[] {
  return payload(spec, spec.action === FR_ACT_TO_TBL ? FR_ACT_UNSPEC : spec.action);
}
