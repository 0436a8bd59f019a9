// Where a vrrp_instance stands on this host right now: the index of its interface, the address its
// adverts go out from, and its VIPs resolved to interface indexes, or the reasons it cannot run
// (keepalived holds such an instance in FAULT and runs the others). Pure: the caller keeps the
// interface and address tables current from rtnetlink.
import type { VrrpInstance } from '../config/model.js';
import { parseAddress } from '../netlink/address.js';
import type { InterfaceAddress, Link } from '../netlink/rtnetlink.js';
import { virtualAddress, type VirtualAddress } from './vips.js';

const IFA_F_SECONDARY = 0x01;

export interface Placement {
  ifindex: number | undefined;
  primary: string | undefined;
  vips: VirtualAddress[];
  /** Empty when the instance can run. */
  problems: string[];
}

export function placeInstance(inst: VrrpInstance, interfaces: ReadonlyMap<string, Link>, addresses: readonly InterfaceAddress[]): Placement {
  const problems: string[] = [];
  const link = interfaces.get(inst.interface);
  if (!link) problems.push(`interface ${inst.interface} does not exist`);
  const entries = [...inst.virtualIpAddresses, ...inst.virtualIpAddressesExcluded];
  const missing = [...new Set(entries.map((e) => e.device ?? inst.interface))].filter((d) => d !== inst.interface && !interfaces.has(d));
  for (const device of missing) problems.push(`VIP interface ${device} does not exist`);
  const vips = problems.length === 0 ? entries.map((e) => virtualAddress(e, inst.interface, (name) => interfaces.get(name)!.index)) : [];
  let primary: string | undefined;
  if (link) {
    const found = primaryAddressOf(inst, link.index, addresses, new Set(vips.map((v) => v.address)));
    if (found.address !== undefined) primary = found.address;
    else problems.push(found.problem);
  }
  return { ifindex: link?.index, primary, vips, problems };
}

// The advert source: mcast_src_ip / unicast_src_ip (which must be on this host, or keepalived
// cannot bind it: FAULT), else the interface's first primary IPv4 address, or its link-local IPv6
// address; never one of our own VIPs.
function primaryAddressOf(
  inst: VrrpInstance,
  ifindex: number,
  addresses: readonly InterfaceAddress[],
  vips: ReadonlySet<string>,
): { address: string; problem?: undefined } | { address?: undefined; problem: string } {
  const configured = inst.unicastSrcIp ?? inst.mcastSrcIp;
  if (configured) {
    const keyword = inst.unicastSrcIp ? 'unicast_src_ip' : 'mcast_src_ip';
    if (!addresses.some((a) => sameAddress(a.local ?? a.address, configured.address))) return { problem: `${keyword} ${configured.address} is not configured on this host` };
    return { address: configured.address };
  }
  const candidates = addresses.filter((a) => a.ifindex === ifindex && a.family === inst.family && !vips.has(a.local ?? a.address));
  const pick =
    inst.family === 'inet'
      ? (candidates.find((a) => (a.flags & IFA_F_SECONDARY) === 0) ?? candidates[0])
      : candidates.find((a) => parseAddress(a.address).bytes.readUInt16BE(0) >> 6 === 0xfe80 >> 6);
  if (!pick) return { problem: `${inst.interface} has no ${inst.family === 'inet' ? 'IPv4' : 'link-local IPv6'} address to send adverts from` };
  return { address: pick.local ?? pick.address };
}

function sameAddress(a: string, b: string): boolean {
  try {
    return parseAddress(a).bytes.equals(parseAddress(b).bytes);
  } catch {
    return false;
  }
}
