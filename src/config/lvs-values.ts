// Values specific to LVS keywords: schedulers, forwarding methods, persistence granularity.
import type { Statement } from './ast.js';
import type { ForwardingMethod } from './model.js';
import { suggest } from './suggest.js';
import { integer, netmaskPrefix, port, type ParseContext } from './values.js';
import type { AddressFamily, Protocol, TunnelChecksum, TunnelType } from '../ipvs/model.js';

export const schedulers = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos'] as const;

export function scheduler(st: Statement, cx: ParseContext): string | undefined {
  const tok = st.args[0]!;
  if ((schedulers as readonly string[]).includes(tok.text)) return tok.text;
  const near = suggest(tok.text, schedulers);
  cx.error(tok, `unknown scheduler \`${tok.text}\`${near ? `; did you mean \`${near}\`?` : ''} (one of ${schedulers.join(' ')})`);
  return undefined;
}

export function protocol(st: Statement, cx: ParseContext): Protocol | undefined {
  const word = st.args[0]!.text.toLowerCase();
  if (word === 'tcp' || word === 'udp' || word === 'sctp') return word;
  cx.error(st.args[0]!, `\`protocol\` takes TCP, UDP or SCTP, not \`${st.args[0]!.text}\``);
  return undefined;
}

/** `NAT | DR | TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`, from argument `from`. */
export function forwardingMethod(st: Statement, cx: ParseContext, from = 0): ForwardingMethod | undefined {
  const args = st.args.slice(from);
  const first = args[0];
  if (!first) {
    cx.error(st, `\`${st.keyword.text}\` needs NAT, DR or TUN`);
    return undefined;
  }
  const method = first.text;
  if (method !== 'NAT' && method !== 'DR' && method !== 'TUN') {
    const upper = first.text.toUpperCase();
    const hint = upper === 'NAT' || upper === 'DR' || upper === 'TUN' ? ` (keepalived requires upper case: \`${upper}\`)` : '';
    cx.error(first, `\`${st.keyword.text}\` takes NAT, DR or TUN, not \`${method}\`${hint}`);
    return undefined;
  }
  const fm: ForwardingMethod = { method, tunnelType: 'ipip', tunnelPort: 0, tunnelChecksum: 'nocsum' };
  let checksumSet = false;
  for (let i = 1; i < args.length; i++) {
    const tok = args[i]!;
    if (method !== 'TUN') {
      cx.error(tok, `\`${method}\` takes no options`);
      return undefined;
    }
    if (tok.text === 'type') {
      const type = args[++i];
      if (!type || !['ipip', 'gue', 'gre'].includes(type.text)) {
        cx.error(type ?? tok, '`type` takes ipip, gue or gre');
        return undefined;
      }
      fm.tunnelType = type.text as TunnelType;
    } else if (tok.text === 'port') {
      const p = args[++i];
      const value = p ? port(p, cx, 'a tunnel port') : undefined;
      if (!p) cx.error(tok, '`port` needs a number');
      if (value === undefined) return undefined;
      fm.tunnelPort = value;
    } else if (['nocsum', 'csum', 'remcsum'].includes(tok.text)) {
      fm.tunnelChecksum = tok.text as TunnelChecksum;
      checksumSet = true;
    } else {
      cx.error(tok, `unknown TUN option \`${tok.text}\``);
      return undefined;
    }
  }
  if (fm.tunnelType === 'gue' && fm.tunnelPort === 0) {
    cx.error(first, 'a GUE tunnel needs `port N`');
    return undefined;
  }
  if (fm.tunnelType !== 'gue' && fm.tunnelPort !== 0) {
    cx.error(first, '`port` applies only to GUE tunnels');
    return undefined;
  }
  if (fm.tunnelType === 'ipip' && checksumSet) {
    cx.error(first, 'an ipip tunnel takes no checksum option');
    return undefined;
  }
  if (fm.tunnelType === 'gre' && fm.tunnelChecksum === 'remcsum') {
    cx.error(first, 'a GRE tunnel cannot use `remcsum`');
    return undefined;
  }
  return fm;
}

/** IPv4 dotted netmask or IPv6 prefix length, as a prefix length for the family. */
export function granularity(st: Statement, family: AddressFamily, cx: ParseContext): number | undefined {
  const tok = st.args[0]!;
  if (family === 'inet') {
    const prefix = netmaskPrefix(tok.text);
    if (prefix === undefined || prefix === 0) {
      cx.error(tok, `\`persistence_granularity\` must be a contiguous IPv4 netmask like 255.255.255.0, not \`${tok.text}\``);
    }
    return prefix || undefined;
  }
  return integer(tok, cx, 1, 128, 'an IPv6 `persistence_granularity`');
}
