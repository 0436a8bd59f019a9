// What the real ipvsadm reports per service and per real server: the cumulative counters of
// `ipvsadm -Ln --stats --exact` and the connection counts of `ipvsadm -Ln`, keyed
// `TCP 10.99.0.100:80` for a service and `TCP 10.99.0.100:80 -> 10.99.0.11:80` for a real server.
import { ipvsadm } from './ipvsadm.js';
import { until } from './ipvsd-process.js';

export interface Counters {
  conns: number;
  inPackets: number;
  outPackets: number;
  inBytes: number;
  outBytes: number;
}

export interface Connections {
  weight: number;
  active: number;
  inactive: number;
}

const serviceLine = /^(TCP|UDP|SCTP|FWM)\s+(\S+)\s+(.*)$/;
const destinationLine = /^\s+->\s+(\S+)\s+(.*)$/;

/** Calls `each(key, rest)` for every service and real-server line of an `ipvsadm -Ln...` listing. */
function walk(listing: string, each: (key: string, rest: string[], service: boolean) => void): void {
  let service: string | undefined;
  for (const line of listing.split('\n')) {
    const s = serviceLine.exec(line);
    if (s) {
      service = `${s[1]} ${s[2]}`;
      each(service, s[3]!.trim().split(/\s+/), true);
      continue;
    }
    const d = destinationLine.exec(line);
    if (d && service !== undefined && d[1] !== 'RemoteAddress:Port') each(`${service} -> ${d[1]}`, d[2]!.trim().split(/\s+/), false);
  }
}

/** Every service's and real server's cumulative counters. */
export function counters(): Map<string, Counters> {
  const out = new Map<string, Counters>();
  walk(ipvsadm('-Ln', '--stats', '--exact'), (key, rest) => {
    const [conns, inPackets, outPackets, inBytes, outBytes] = rest.map(Number) as [number, number, number, number, number];
    out.set(key, { conns, inPackets, outPackets, inBytes, outBytes });
  });
  return out;
}

/**
 * `counters()` once every key of `expected` is listed, or the last read after 250 ms times the
 * wait factor: one dump in the loaded guest came back without a service's destinations while
 * /proc/net/ip_vs, sampled every 20 ms, listed them throughout.
 */
export async function countersListing(expected: Iterable<string>): Promise<Map<string, Counters>> {
  const keys = [...expected];
  let now = new Map<string, Counters>();
  await until(() => {
    now = counters();
    return keys.every((k) => now.has(k));
  }, 250, 100);
  return now;
}

/** Every real server's weight and active / inactive connection counts. */
export function connections(): Map<string, Connections> {
  const out = new Map<string, Connections>();
  walk(ipvsadm('-Ln'), (key, rest, service) => {
    if (service) return;
    // Forward Weight ActiveConn InActConn
    const [, weight, active, inactive] = rest;
    out.set(key, { weight: Number(weight), active: Number(active), inactive: Number(inactive) });
  });
  return out;
}

/** The counters of `before` that went down in `after` (an entry missing in `after` counts as gone). */
export function decreases(before: Map<string, Counters>, after: Map<string, Counters>, keys: readonly string[]): string[] {
  const out: string[] = [];
  for (const key of keys) {
    const was = before.get(key);
    const now = after.get(key);
    if (!was) continue;
    if (!now) {
      out.push(`${key}: gone`);
      continue;
    }
    for (const field of Object.keys(was) as Array<keyof Counters>) {
      if (now[field] < was[field]) out.push(`${key}: ${field} ${was[field]} -> ${now[field]}`);
    }
  }
  return out;
}
