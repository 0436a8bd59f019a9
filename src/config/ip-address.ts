// `ip addr`-style entries (virtual_ipaddress, static_ipaddress), `ip route`-style virtual_routes
// lines and `ip rule`-style virtual_rules lines.
import type { Statement, Token } from './ast.js';
import type { IpAddressEntry, Prefix, RouteEntry, RouteNexthop, RouteType, RuleAction, RuleEntry } from './model.js';
import type { AddressFamily } from '../ipvs/model.js';
import { parseAddress, type ParseContext } from './values.js';

const valued = new Set(['dev', 'brd', 'broadcast', 'scope', 'label', 'peer', 'preferred_lft']);
const bare = new Set(['home', '-nodad', 'nodad', 'noprefixroute', 'autojoin', 'no_track', 'track']);

/** One line of an address block: the statement's keyword is the address itself. */
function ipAddressEntry(st: Statement, cx: ParseContext): IpAddressEntry | undefined {
  const [text = '', bits] = st.keyword.text.split('/') as [string, string | undefined];
  const a = parseAddress(text);
  if (!a) {
    cx.error(st, `\`${st.keyword.text}\` is not an address or address/prefix`);
    return undefined;
  }
  const width = a.family === 'inet' ? 32 : 128;
  const prefixLength = bits === undefined ? width : /^\d+$/.test(bits) ? Number(bits) : NaN;
  if (!(prefixLength >= 0 && prefixLength <= width)) {
    cx.error(st, `\`${st.keyword.text}\` has a bad prefix length (0..${width})`);
    return undefined;
  }
  const entry: IpAddressEntry = {
    ...a, prefixLength, device: undefined, broadcast: undefined, scope: undefined, label: undefined, peer: undefined, options: [], pos: st.keyword.pos,
  };
  for (let i = 0; i < st.args.length; i++) {
    const tok = st.args[i]!;
    if (bare.has(tok.text)) {
      entry.options.push(tok.text);
    } else if (valued.has(tok.text)) {
      const value = st.args[++i];
      if (!value) {
        cx.error(tok, `\`${tok.text}\` needs a value`);
        return undefined;
      }
      if (tok.text === 'dev') entry.device = value.text;
      else if (tok.text === 'brd' || tok.text === 'broadcast') entry.broadcast = value.text;
      else if (tok.text === 'scope') entry.scope = value.text;
      else if (tok.text === 'label') entry.label = value.text;
      else if (tok.text === 'peer') entry.peer = value.text;
      else entry.options.push(tok.text, value.text);
    } else {
      cx.error(tok, `unknown address option \`${tok.text}\` (dev, brd, scope, label, peer, home, -nodad, noprefixroute, autojoin, no_track, preferred_lft)`);
      return undefined;
    }
  }
  return entry;
}

export function ipAddressBlock(st: Statement, cx: ParseContext): IpAddressEntry[] {
  const out: IpAddressEntry[] = [];
  for (const child of st.children ?? []) {
    if (child.children) {
      cx.error(child, 'an address line does not take a `{ ... }` block');
      continue;
    }
    const e = ipAddressEntry(child, cx);
    if (e) out.push(e);
  }
  return out;
}

const RT_TABLE_MAIN = 254;
const RT_TABLE_LOCAL = 255;
const RT_SCOPE_HOST = 254;
/** RTPROT_KEEPALIVED: keepalived marks its routes and rules with it (`ip route` prints "proto keepalived"). */
const RTPROT_KEEPALIVED = 18;
const U32_MAX = 0xffffffff;

const tableNames: Record<string, number> = { default: 253, main: RT_TABLE_MAIN, local: RT_TABLE_LOCAL };
const scopeNames: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: RT_SCOPE_HOST, nowhere: 255 };
const protocolNames: Record<string, number> = {
  redirect: 1, kernel: 2, boot: 3, static: 4, gated: 8, ra: 9, mrt: 10, zebra: 11, bird: 12, dnrouted: 13, xorp: 14, ntk: 15, dhcp: 16,
  mrouted: 17, keepalived: RTPROT_KEEPALIVED, babel: 42, bgp: 186, isis: 187, ospf: 188, rip: 189, eigrp: 192,
};
const routeTypes = new Set<RouteType>(['unicast', 'local', 'blackhole', 'unreachable', 'prohibit', 'throw']);
const ruleActions = new Set<RuleAction>(['nop', 'blackhole', 'unreachable', 'prohibit']);

/** The words of one line with their positions; reports at the word it is looking at. */
class LineWords {
  private i = 0;
  constructor(
    private readonly tokens: readonly Token[],
    private readonly cx: ParseContext,
  ) {}

  get done(): boolean {
    return this.i >= this.tokens.length;
  }

  next(): Token {
    return this.tokens[this.i++]!;
  }

  peek(): Token | undefined {
    return this.tokens[this.i];
  }

  /** The value after a keyword; reports and returns undefined when the line ends first. */
  value(keyword: Token): Token | undefined {
    const tok = this.tokens[this.i++];
    if (!tok) this.cx.error(keyword, `\`${keyword.text}\` needs a value`);
    return tok;
  }
}

/** Decimal or 0x hex, 0..max. */
function unsigned(tok: Token, cx: ParseContext, max: number, what: string): number | undefined {
  const value = /^\d+$/.test(tok.text) ? Number(tok.text) : /^0x[0-9a-f]+$/i.test(tok.text) ? parseInt(tok.text.slice(2), 16) : NaN;
  if (!(value >= 0 && value <= max)) {
    cx.error(tok, `${what} must be a number from 0 to ${max}, not \`${tok.text}\``);
    return undefined;
  }
  return value;
}

function named(tok: Token, cx: ParseContext, names: Record<string, number>, max: number, what: string): number | undefined {
  const value = names[tok.text];
  if (value !== undefined) return value;
  if (/^(\d+|0x[0-9a-f]+)$/i.test(tok.text)) return unsigned(tok, cx, max, what);
  cx.error(tok, `unknown ${what} \`${tok.text}\` (${Object.keys(names).join(', ')}, or a number)`);
  return undefined;
}

interface Gateway {
  tok: Token;
  address: string;
  family: AddressFamily;
}

function hostAddress(tok: Token, cx: ParseContext, what: string): { address: string; family: AddressFamily } | undefined {
  const a = parseAddress(tok.text);
  if (!a) cx.error(tok, `${what} must be an IPv4 or IPv6 address, not \`${tok.text}\``);
  return a;
}

/** ADDRESS[/LEN] with no host bits set (the kernel refuses them); `anyWord` (`all`, `default`) is the zero-length prefix. */
function prefix(tok: Token, cx: ParseContext, what: string, anyWord?: string): (Prefix & { family: AddressFamily | undefined }) | undefined {
  if (tok.text === anyWord) return { address: '', prefixLength: 0, family: undefined };
  const [text = '', bits] = tok.text.split('/') as [string, string | undefined];
  const a = parseAddress(text);
  if (!a) {
    cx.error(tok, `${what} must be an address or address/prefix${anyWord ? ` or \`${anyWord}\`` : ''}, not \`${tok.text}\``);
    return undefined;
  }
  const width = a.family === 'inet' ? 32 : 128;
  const prefixLength = bits === undefined ? width : /^\d+$/.test(bits) ? Number(bits) : NaN;
  if (!(prefixLength >= 0 && prefixLength <= width)) {
    cx.error(tok, `\`${tok.text}\` has a bad prefix length (0..${width})`);
    return undefined;
  }
  const network = networkOf(a.address, a.family, prefixLength);
  if (network !== a.address) {
    cx.error(tok, `\`${tok.text}\` has host bits set; the network is ${network}/${prefixLength}`);
    return undefined;
  }
  return { address: a.address, prefixLength, family: a.family };
}

function networkOf(address: string, family: AddressFamily, prefixLength: number): string {
  if (family === 'inet') {
    const value = address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
    const mask = prefixLength === 0 ? 0 : (~0 << (32 - prefixLength)) >>> 0;
    const net = (value & mask) >>> 0;
    return [24, 16, 8, 0].map((shift) => (net >>> shift) & 255).join('.');
  }
  const groups = expandIPv6(address);
  const out = groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, prefixLength - i * 16));
    return keep === 0 ? 0 : g & ((0xffff << (16 - keep)) & 0xffff);
  });
  return parseAddress(out.map((g) => g.toString(16)).join(':'))!.address;
}

function expandIPv6(text: string): number[] {
  const [head = '', tail] = text.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = part(head);
  const t = tail === undefined ? [] : part(tail);
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
}

function familyName(family: AddressFamily): string {
  return family === 'inet' ? 'IPv4' : 'IPv6';
}

/** `via [inet|inet6] ADDR` or `gw ADDR`: the address after the keyword. */
function gatewayAfter(keyword: Token, line: LineWords, cx: ParseContext): Gateway | undefined {
  let value = line.value(keyword);
  if (value && keyword.text === 'via' && (value.text === 'inet' || value.text === 'inet6')) value = line.value(value);
  if (!value) return undefined;
  const a = hostAddress(value, cx, 'the gateway');
  return a && { tok: value, ...a };
}

/** The words after `nexthop` that belong to it: `[via ADDR] [dev IF] [weight 1..256] [onlink]`. */
function nexthop(line: LineWords, cx: ParseContext): { hop: RouteNexthop; gateway: Gateway | undefined } | undefined {
  const hop: RouteNexthop = { gateway: undefined, device: undefined, weight: 1, onlink: false };
  let gateway: Gateway | undefined;
  while (['via', 'gw', 'dev', 'weight', 'onlink'].includes(line.peek()?.text ?? '')) {
    const tok = line.next();
    if (tok.text === 'onlink') {
      hop.onlink = true;
    } else if (tok.text === 'via' || tok.text === 'gw') {
      if (!(gateway = gatewayAfter(tok, line, cx))) return undefined;
      hop.gateway = gateway.address;
    } else {
      const value = line.value(tok);
      if (!value) return undefined;
      if (tok.text === 'dev') {
        hop.device = value.text;
      } else {
        const weight = unsigned(value, cx, 256, 'the weight');
        if (weight === undefined) return undefined;
        if (weight === 0) {
          cx.error(value, 'the weight must be from 1 to 256');
          return undefined;
        }
        hop.weight = weight;
      }
    }
  }
  return { hop, gateway };
}

/**
 * One `ip route` line: `[TYPE] [to] PREFIX|default [via|gw ADDR] [src ADDR] [dev IF] [table ID]
 * [metric N] [scope S] [protocol P] [tos N] [onlink] [inet|inet6] [add|append|prepend] [no_track]
 * [nexthop via ADDR [dev IF] [weight N] [onlink]]...`, and keepalived's deprecated `via A or B`.
 */
function routeEntry(st: Statement, cx: ParseContext): RouteEntry | undefined {
  const tokens = [st.keyword, ...st.args];
  const line = new LineWords(tokens, cx);
  let destination: Token | undefined;
  let type: RouteType = 'unicast';
  let familyHint: AddressFamily | undefined;
  let gateway: Gateway | undefined;
  let source: Gateway | undefined;
  // `or` alternatives to `via`, and `nexthop` paths, with the words they started at.
  const alternatives: Gateway[] = [];
  const hops: Array<{ tok: Token; hop: RouteNexthop; gateway: Gateway | undefined }> = [];
  const entry: Partial<RouteEntry> = { onlink: false, mode: 'prepend' };
  while (!line.done) {
    const tok = line.next();
    const word = tok.text;
    if (routeTypes.has(word as RouteType)) {
      type = word as RouteType;
    } else if (word === 'add' || word === 'append' || word === 'prepend') {
      entry.mode = word;
    } else if (word === 'inet' || word === 'inet6') {
      familyHint = word;
    } else if (word === 'onlink') {
      entry.onlink = true;
    } else if (word === 'no_track') {
      // ipvsd does not watch routes, so there is nothing to leave out.
    } else if (word === 'nexthop') {
      const path = nexthop(line, cx);
      if (!path) return undefined;
      hops.push({ tok, ...path });
    } else if (word === 'or') {
      if (!gateway) {
        cx.error(tok, '`or` gives another gateway, so it needs a `via` before it');
        return undefined;
      }
      const alternative = gatewayAfter(tok, line, cx);
      if (!alternative) return undefined;
      if (alternatives.length === 0) cx.warning(tok, '`or` is deprecated; keepalived reads `via A or B` as `nexthop via A nexthop via B`, so does ipvsd (write `nexthop`)');
      alternatives.push(alternative);
    } else if (word === 'via' || word === 'gw') {
      if (!(gateway = gatewayAfter(tok, line, cx))) return undefined;
    } else if (['src', 'dev', 'oif', 'table', 'metric', 'priority', 'preference', 'scope', 'protocol', 'proto', 'tos', 'dsfield', 'to'].includes(word)) {
      const value = line.value(tok);
      if (!value) return undefined;
      if (word === 'src') {
        const a = hostAddress(value, cx, 'the source address');
        if (!a) return undefined;
        source = { tok: value, ...a };
      } else if (word === 'dev' || word === 'oif') {
        entry.device = value.text;
      } else if (word === 'table') {
        if ((entry.table = named(value, cx, tableNames, U32_MAX, 'routing table')) === undefined) return undefined;
      } else if (word === 'metric' || word === 'priority' || word === 'preference') {
        if ((entry.metric = unsigned(value, cx, U32_MAX, 'the metric')) === undefined) return undefined;
      } else if (word === 'scope') {
        if ((entry.scope = named(value, cx, scopeNames, 255, 'scope')) === undefined) return undefined;
      } else if (word === 'protocol' || word === 'proto') {
        if ((entry.protocol = named(value, cx, protocolNames, 255, 'route protocol')) === undefined) return undefined;
      } else if (word === 'tos' || word === 'dsfield') {
        if ((entry.tos = unsigned(value, cx, 255, 'the TOS')) === undefined) return undefined;
      } else if (destination) {
        cx.error(value, `the route already has the destination \`${destination.text}\``);
        return undefined;
      } else {
        destination = value;
      }
    } else if (word === 'default' || /^[0-9a-f:.]+(\/\d+)?$/i.test(word)) {
      if (destination) {
        cx.error(tok, `the route already has the destination \`${destination.text}\``);
        return undefined;
      }
      destination = tok;
    } else {
      cx.error(tok, `unknown route option \`${word}\` (via, gw, src, dev, table, metric, scope, protocol, tos, onlink, nexthop, inet6, add, ` +
        `append, prepend, no_track, or a type: unicast, local, blackhole, unreachable, prohibit, throw)`);
      return undefined;
    }
  }
  if (!destination) {
    cx.error(st, 'a route needs a destination (ADDRESS/LEN or `default`)');
    return undefined;
  }
  const dest = prefix(destination, cx, 'the destination', 'default');
  if (!dest) return undefined;
  const hopGateways = hops.flatMap((h) => (h.gateway ? [h.gateway] : []));
  const family = dest.family ?? familyHint ?? gateway?.family ?? hopGateways[0]?.family ?? source?.family ?? 'inet';
  if (familyHint && familyHint !== family) {
    cx.error(destination, `\`${destination.text}\` is not an ${familyName(familyHint)} destination`);
    return undefined;
  }
  for (const a of [gateway, source, ...alternatives, ...hopGateways]) {
    if (a && a.family !== family) {
      cx.error(a.tok, `cannot mix ${familyName(family)} and ${familyName(a.family)} addresses in a route`);
      return undefined;
    }
  }
  if (hops.length > 0 && (gateway || entry.device !== undefined)) {
    cx.error(hops[0]!.tok, 'a route with `nexthop` takes its `via` and `dev` inside each `nexthop`');
    return undefined;
  }
  // `via A or B dev D`: each gateway a path through D (keepalived 2.2.7 sends D beside the paths and the kernel refuses it).
  const nexthops = gateway && alternatives.length > 0
    ? [gateway, ...alternatives].map((g) => ({ gateway: g.address, device: entry.device, weight: 1, onlink: entry.onlink! }))
    : hops.map((h) => h.hop);
  const multipath = alternatives.length > 0;
  return {
    destination: destination.text,
    family,
    address: dest.family ? dest.address : family === 'inet' ? '0.0.0.0' : '::',
    prefixLength: dest.prefixLength,
    type,
    gateway: multipath ? undefined : gateway?.address,
    device: multipath ? undefined : entry.device,
    source: source?.address,
    table: entry.table ?? (type === 'local' ? RT_TABLE_LOCAL : RT_TABLE_MAIN),
    metric: entry.metric,
    scope: entry.scope ?? (type === 'local' ? RT_SCOPE_HOST : 0),
    protocol: entry.protocol ?? RTPROT_KEEPALIVED,
    tos: entry.tos,
    onlink: !multipath && entry.onlink!,
    nexthops,
    mode: entry.mode!,
    words: tokens.map((t) => t.text),
    pos: st.keyword.pos,
  };
}

function lines<T>(st: Statement, cx: ParseContext, read: (line: Statement) => T | undefined): T[] {
  const out: T[] = [];
  for (const child of st.children ?? []) {
    if (child.children) {
      cx.error(child, `a \`${st.keyword.text}\` line does not take a \`{ ... }\` block`);
      continue;
    }
    const entry = read(child);
    if (entry) out.push(entry);
  }
  return out;
}

export function routeBlock(st: Statement, cx: ParseContext): RouteEntry[] {
  return lines(st, cx, (line) => routeEntry(line, cx));
}

// keepalived numbers rules written without a preference from 16384 down, per family, across the
// whole configuration.
const nextPreference = new WeakMap<ParseContext, Record<AddressFamily, number>>();

/**
 * One `ip rule` line: `[not] [from PREFIX|all] [to PREFIX|all] [fwmark N[/M]] [iif IF] [oif IF]
 * [tos N] [preference N] [protocol P] [suppress_prefixlength N] [inet|inet6] [no_track]` and an action:
 * `table ID` (`lookup`), `goto N`, `nop`, `blackhole`, `unreachable` or `prohibit`.
 */
function ruleEntry(st: Statement, cx: ParseContext): RuleEntry | undefined {
  const tokens = [st.keyword, ...st.args];
  const line = new LineWords(tokens, cx);
  const selectors: Array<{ tok: Token; family: AddressFamily }> = [];
  let familyHint: AddressFamily | undefined;
  let action: RuleAction | undefined;
  const entry: Partial<RuleEntry> = { not: false };
  const setAction = (tok: Token, a: RuleAction): boolean => {
    if (action && action !== a) {
      cx.error(tok, `the rule already has the action \`${action}\``);
      return false;
    }
    action = a;
    return true;
  };
  while (!line.done) {
    const tok = line.next();
    const word = tok.text;
    if (word === 'not') {
      entry.not = true;
    } else if (word === 'inet' || word === 'inet6') {
      familyHint = word;
    } else if (word === 'no_track') {
      // ipvsd does not watch rules, so there is nothing to leave out.
    } else if (ruleActions.has(word as RuleAction)) {
      if (!setAction(tok, word as RuleAction)) return undefined;
    } else if (['from', 'to', 'table', 'lookup', 'goto', 'preference', 'priority', 'order', 'pref', 'fwmark', 'iif', 'dev', 'oif', 'tos', 'dsfield', 'protocol', 'proto', 'suppress_prefixlength'].includes(word)) {
      const value = line.value(tok);
      if (!value) return undefined;
      if (word === 'from' || word === 'to') {
        const p = prefix(value, cx, `\`${word}\``, 'all');
        if (!p) return undefined;
        if (p.family) {
          selectors.push({ tok: value, family: p.family });
          entry[word] = { address: p.address, prefixLength: p.prefixLength };
        }
      } else if (word === 'table' || word === 'lookup') {
        if (!setAction(tok, 'table') || (entry.table = named(value, cx, tableNames, U32_MAX, 'routing table')) === undefined) return undefined;
      } else if (word === 'goto') {
        if (!setAction(tok, 'goto') || (entry.goto = unsigned(value, cx, U32_MAX, 'the goto target')) === undefined) return undefined;
      } else if (word === 'fwmark') {
        const [mark = '', mask] = value.text.split('/');
        if ((entry.fwmark = unsigned({ ...value, text: mark }, cx, U32_MAX, 'the fwmark')) === undefined) return undefined;
        if (mask !== undefined && (entry.fwmask = unsigned({ ...value, text: mask }, cx, U32_MAX, 'the fwmark mask')) === undefined) return undefined;
      } else if (word === 'iif' || word === 'dev') {
        entry.iif = value.text;
      } else if (word === 'oif') {
        entry.oif = value.text;
      } else if (word === 'tos' || word === 'dsfield') {
        if ((entry.tos = unsigned(value, cx, 255, 'the TOS')) === undefined) return undefined;
      } else if (word === 'protocol' || word === 'proto') {
        if ((entry.protocol = named(value, cx, protocolNames, 255, 'rule protocol')) === undefined) return undefined;
      } else if (word === 'suppress_prefixlength') {
        if ((entry.suppressPrefixLength = unsigned(value, cx, 128, 'suppress_prefixlength')) === undefined) return undefined;
      } else if ((entry.preference = unsigned(value, cx, U32_MAX, 'the preference')) === undefined) {
        return undefined;
      }
    } else {
      cx.error(tok, `unknown rule option \`${word}\` (from, to, not, fwmark, iif, oif, tos, preference, protocol, suppress_prefixlength, inet6, ` +
        'no_track, or an action: table, goto, nop, blackhole, unreachable, prohibit)');
      return undefined;
    }
  }
  if (!action) {
    cx.error(st, 'a rule needs an action: `table ID`, `goto N`, `nop`, `blackhole`, `unreachable` or `prohibit`');
    return undefined;
  }
  const family = selectors[0]?.family ?? familyHint ?? 'inet';
  for (const s of [...selectors, ...(familyHint ? [{ tok: st.keyword, family: familyHint }] : [])]) {
    if (s.family !== family) {
      cx.error(s.tok, `cannot mix ${familyName(family)} and ${familyName(s.family)} in a rule`);
      return undefined;
    }
  }
  let preference = entry.preference;
  if (preference === undefined) {
    const next = nextPreference.get(cx) ?? { inet: 16384, inet6: 16384 };
    nextPreference.set(cx, next);
    preference = next[family]--;
    cx.warning(st, `the rule has no \`preference\`; keepalived gives it ${preference}, so does ipvsd (rules are matched in preference order, so give one)`);
  }
  return {
    family,
    from: entry.from,
    to: entry.to,
    not: entry.not!,
    action,
    table: entry.table,
    goto: entry.goto,
    preference,
    fwmark: entry.fwmark,
    fwmask: entry.fwmask,
    iif: entry.iif,
    oif: entry.oif,
    tos: entry.tos,
    suppressPrefixLength: entry.suppressPrefixLength,
    protocol: entry.protocol ?? RTPROT_KEEPALIVED,
    words: tokens.map((t) => t.text),
    pos: st.keyword.pos,
  };
}

export function ruleBlock(st: Statement, cx: ParseContext): RuleEntry[] {
  return lines(st, cx, (line) => ruleEntry(line, cx));
}
