// `ip addr`-style entries (virtual_ipaddress, static_ipaddress) and `ip route`-style
// virtual_routes lines.
import type { Statement } from './ast.js';
import type { IpAddressEntry, RouteEntry } from './model.js';
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

/** `[src IP] [to] DEST[/LEN] [via GW] [dev IF] ...`: the destination is parsed, the rest kept in order. */
export function routeBlock(st: Statement, cx: ParseContext): RouteEntry[] {
  const out: RouteEntry[] = [];
  for (const child of st.children ?? []) {
    const words = [child.keyword.text, ...child.args.map((a) => a.text)];
    let i = 0;
    if (words[i] === 'src') i += 2;
    if (['unicast', 'blackhole', 'unreachable', 'prohibit', 'throw'].includes(words[i]!)) i++;
    if (words[i] === 'to') i++;
    const dest = words[i];
    const parsed = dest === 'default' ? { address: 'default', family: 'inet' as const } : parseAddress((dest ?? '').split('/')[0]!);
    if (!parsed) {
      cx.error(child, `a route needs a destination address, not \`${dest ?? ''}\``);
      continue;
    }
    out.push({ destination: dest!, family: parsed.family, words, pos: child.keyword.pos });
  }
  return out;
}
