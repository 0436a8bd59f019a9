// What static_ipaddress, static_routes and static_rules ask for, and what a reload changes: pure,
// so the order keepalived uses (addresses, routes, rules up; the reverse down) is tested without a kernel.
import type { IpAddressEntry, KeepalivedConfig, RouteEntry, RuleEntry } from '../config/model.js';

/** The top-level static entries of one configuration, in file order. */
export interface StaticEntries {
  addresses: readonly IpAddressEntry[];
  routes: readonly RouteEntry[];
  rules: readonly RuleEntry[];
}

export const noStaticEntries: StaticEntries = { addresses: [], routes: [], rules: [] };

export function staticEntriesOf(config: KeepalivedConfig): StaticEntries {
  return { addresses: config.staticIpAddresses, routes: config.staticRoutes, rules: config.staticRules };
}

export function hasStaticEntries(entries: StaticEntries): boolean {
  return entries.addresses.length + entries.routes.length + entries.rules.length > 0;
}

/** An address is the same line when everything `ip addr add` would be told is the same; positions do not count. */
export function addressKey(entry: IpAddressEntry): string {
  const { address, prefixLength, device, broadcast, scope, label, peer, options } = entry;
  return JSON.stringify([address, prefixLength, device, broadcast, scope, label, peer, [...options].sort()]);
}

/** A route or rule is the same line when its words are (the parser fills defaults from the words alone). */
function lineKey(entry: RouteEntry | RuleEntry): string {
  return entry.words.join(' ');
}

/** `ip addr`-style text of an address line, for messages. */
export function addressLine(entry: IpAddressEntry): string {
  return `${entry.address}/${entry.prefixLength} dev ${entry.device ?? '?'}`;
}

/** A reload: what the old file had and the new one has not, and what the new one has that the old had not. */
export interface StaticChange {
  removed: StaticEntries;
  added: StaticEntries;
}

export function staticChange(before: StaticEntries, after: StaticEntries): StaticChange {
  const missingFrom = <T>(list: readonly T[], other: readonly T[], key: (e: T) => string): T[] => {
    const keys = new Set(other.map(key));
    return list.filter((e) => !keys.has(key(e)));
  };
  return {
    removed: {
      addresses: missingFrom(before.addresses, after.addresses, addressKey),
      routes: missingFrom(before.routes, after.routes, lineKey),
      rules: missingFrom(before.rules, after.rules, lineKey),
    },
    added: {
      addresses: missingFrom(after.addresses, before.addresses, addressKey),
      routes: missingFrom(after.routes, before.routes, lineKey),
      rules: missingFrom(after.rules, before.rules, lineKey),
    },
  };
}

function routeDevices(route: RouteEntry): string[] {
  return [route.device, ...route.nexthops.map((hop) => hop.device)].filter((d): d is string => d !== undefined);
}

/**
 * What to put back when an interface comes up (the kernel drops routes through a link that goes down,
 * and addresses with a link that is deleted): as keepalived, the addresses on it and the routes through it,
 * unless `no_track`. Rules survive a link going down, so none.
 */
export function entriesOnDevice(entries: StaticEntries, device: string): StaticEntries {
  return {
    addresses: entries.addresses.filter((a) => a.device === device && !a.options.includes('no_track')),
    routes: entries.routes.filter((r) => !r.words.includes('no_track') && routeDevices(r).includes(device)),
    rules: [],
  };
}
