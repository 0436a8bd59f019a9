// Virtual and real servers as operators type them, the way ipvsadm prints them: `10.0.0.1:80`,
// `[2001:db8::1]:80`, `fwmark:5`; a protocol prefix (`udp:10.0.0.1:53`) picks one of two services
// on the same address, and `group:NAME` names a virtual_server_group.
import { formatAddress, parseAddress } from '../netlink/address.js';

export class ServerAddressError extends Error {
  readonly code = 'ESERVERADDRESS';
}

export type VirtualServerSpec =
  | { kind: 'address'; protocol: string | undefined; address: string; port: number }
  | { kind: 'fwmark'; fwmark: number }
  | { kind: 'group'; protocol: string | undefined; name: string };

export interface Endpoint {
  address: string;
  port: number;
}

const protocols = new Set(['tcp', 'udp', 'sctp']);

/** `10.0.1.1:80` or `[2001:db8::1]:80`, the address in its canonical form. */
export function parseEndpoint(text: string, what = 'real server'): Endpoint {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new ServerAddressError(`"${text}" is not a ${what}: write ADDRESS:PORT, e.g. 10.0.1.1:80 or [2001:db8::1]:80`);
  }
  try {
    return { address: formatAddress(parseAddress(m[1]!).bytes), port };
  } catch {
    throw new ServerAddressError(`"${text}" is not a ${what}: "${m[1]}" is not an IP address`);
  }
}

export function parseVirtualServer(text: string): VirtualServerSpec {
  const fwmark = /^fwmark:(\d+)$/i.exec(text);
  if (fwmark) {
    const value = Number(fwmark[1]);
    if (value < 1 || value > 0xffffffff) throw new ServerAddressError(`"${text}": a firewall mark is 1 to 4294967295`);
    return { kind: 'fwmark', fwmark: value };
  }
  const prefix = /^([a-z]+):(.*)$/i.exec(text);
  let protocol: string | undefined;
  let rest = text;
  if (prefix && (protocols.has(prefix[1]!.toLowerCase()) || prefix[1]!.toLowerCase() === 'group')) {
    const word = prefix[1]!.toLowerCase();
    if (word === 'group') return { kind: 'group', protocol: undefined, name: prefix[2]! };
    protocol = word;
    rest = prefix[2]!;
    const group = /^group:(.+)$/i.exec(rest);
    if (group) return { kind: 'group', protocol, name: group[1]! };
  }
  const { address, port } = parseEndpoint(rest, 'virtual server');
  return { kind: 'address', protocol, address, port };
}

/** What a virtual server spec is compared with: the configured target and protocol. */
export interface VirtualServerIdentity {
  name: string;
  target: { kind: 'address'; address: string; port: number } | { kind: 'fwmark'; fwmark: number } | { kind: 'group'; name: string };
  protocol: string | undefined;
}

/** The one virtual server `text` names; a clear error when none or several match. */
export function findVirtualServer<T extends VirtualServerIdentity>(candidates: readonly T[], text: string): T {
  const spec = parseVirtualServer(text);
  const matches = candidates.filter((c) => {
    const t = c.target;
    if (spec.kind === 'fwmark') return t.kind === 'fwmark' && t.fwmark === spec.fwmark;
    if (spec.protocol !== undefined && (c.protocol ?? 'tcp') !== spec.protocol) return false;
    if (spec.kind === 'group') return t.kind === 'group' && t.name === spec.name;
    return t.kind === 'address' && t.port === spec.port && canonical(t.address) === spec.address;
  });
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new ServerAddressError(`no virtual server ${text} in the running configuration`);
  throw new ServerAddressError(`${text} matches ${matches.map((m) => m.name).join(' and ')}: prefix it with the protocol, e.g. udp:${text}`);
}

function canonical(address: string): string {
  try {
    return formatAddress(parseAddress(address).bytes);
  } catch {
    return address;
  }
}
