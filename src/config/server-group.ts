// virtual_server_group: addresses, ranges (last octet / last 16-bit group), CIDR blocks and fwmarks.
import type { Statement } from './ast.js';
import type { GroupRange, VirtualServerGroup } from './model.js';
import { arity, canonicalIPv6, integer, parseAddress, port, type ParseContext } from './values.js';

function ipv4Parts(a: string): number[] {
  return a.split('.').map(Number);
}

function ipv6Groups(a: string): number[] {
  const [head = '', tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':').map((g) => parseInt(g, 16)) : [];
  const t = tail ? tail.split(':').map((g) => parseInt(g, 16)) : [];
  return tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
}

function ipv6FromGroups(g: number[]): string {
  return canonicalIPv6(g.map((n) => n.toString(16)).join(':'));
}

/** The address with its last octet / group replaced. */
function withLast(address: string, last: number): string {
  if (!address.includes(':')) return [...ipv4Parts(address).slice(0, 3), last].join('.');
  const g = ipv6Groups(address);
  g[7] = last;
  return ipv6FromGroups(g);
}

function lastPart(address: string): number {
  return address.includes(':') ? ipv6Groups(address)[7]! : ipv4Parts(address)[3]!;
}

function readEntry(group: VirtualServerGroup, st: Statement, cx: ParseContext): void {
  const word = st.keyword.text;
  const pos = st.keyword.pos;
  if (word === 'fwmark') {
    if (!arity(st, cx, 1, 2)) return;
    const mark = integer(st.args[0]!, cx, 1, 0xffffffff, 'a fwmark');
    const fam = st.args[1]?.text;
    if (fam !== undefined && fam !== 'inet' && fam !== 'inet6') {
      cx.error(st.args[1]!, `a group fwmark takes inet or inet6 after the mark, not \`${fam}\``);
      return;
    }
    if (mark !== undefined) group.fwmarks.push({ fwmark: mark, family: fam, pos });
    return;
  }
  if (!arity(st, cx, 0, 1)) return;
  const p = st.args[0] ? port(st.args[0], cx) : 0;
  if (p === undefined) return;
  const range = parseRange(word);
  if (typeof range === 'string') cx.error(st, range);
  else group.ranges.push({ ...range, port: p, pos });
}

/** `A`, `A-E`, `A-B` (same prefix) or `A/nn`, as a first..last range; a string is the problem. */
export function parseRange(word: string): Omit<GroupRange, 'port' | 'pos'> | string {
  const slash = word.indexOf('/');
  if (slash >= 0) {
    const base = parseAddress(word.slice(0, slash));
    const bits = word.slice(slash + 1);
    if (!base || !/^\d+$/.test(bits)) return `\`${word}\` is not an address/prefix`;
    const width = base.family === 'inet' ? 32 : 128;
    const prefix = Number(bits);
    const hostBits = width - prefix;
    if (prefix > width || hostBits > (base.family === 'inet' ? 8 : 16)) {
      return `\`${word}\`: a group block may vary only in the last ${base.family === 'inet' ? 'octet (/24 or longer)' : '16 bits (/112 or longer)'}`;
    }
    const last = lastPart(base.address);
    if (last % 2 ** hostBits !== 0) return `\`${word}\` has host bits set`;
    return { family: base.family, first: base.address, last: withLast(base.address, last + 2 ** hostBits - 1) };
  }
  const dash = word.lastIndexOf('-');
  if (dash > 0) {
    const first = parseAddress(word.slice(0, dash));
    const end = word.slice(dash + 1);
    if (!first) return `\`${word}\` is not an address range`;
    const full = parseAddress(end);
    let lastValue: number;
    if (full) {
      if (full.family !== first.family || withLast(full.address, 0) !== withLast(first.address, 0)) {
        return `\`${word}\`: a range may vary only in the last ${first.family === 'inet' ? 'octet' : '16-bit group'}`;
      }
      lastValue = lastPart(full.address);
    } else {
      const max = first.family === 'inet' ? 255 : 0xffff;
      lastValue = first.family === 'inet' ? (/^\d+$/.test(end) ? Number(end) : NaN) : /^[0-9a-fA-F]{1,4}$/.test(end) ? parseInt(end, 16) : NaN;
      if (!(lastValue <= max)) return `\`${word}\` is not an address range`;
    }
    if (lastValue < lastPart(first.address)) return `\`${word}\`: the range ends before it starts`;
    return { family: first.family, first: first.address, last: withLast(first.address, lastValue) };
  }
  const single = parseAddress(word);
  if (!single) return `\`${word}\` is not an address, range, prefix or \`fwmark N\``;
  return { family: single.family, first: single.address, last: single.address };
}

export function readServerGroup(st: Statement, cx: ParseContext): VirtualServerGroup | undefined {
  if (!arity(st, cx, 1)) return undefined;
  if (!st.children) {
    cx.error(st, '`virtual_server_group` needs a `{ ... }` block');
    return undefined;
  }
  const group: VirtualServerGroup = { name: st.args[0]!.text, pos: st.keyword.pos, ranges: [], fwmarks: [] };
  for (const child of st.children) readEntry(group, child, cx);
  return group;
}

/** Every address of a range, in order. */
export function rangeAddresses(r: Pick<GroupRange, 'first' | 'last'>): string[] {
  const from = lastPart(r.first);
  const to = lastPart(r.last);
  const out: string[] = [];
  for (let n = from; n <= to; n++) out.push(withLast(r.first, n));
  return out;
}
