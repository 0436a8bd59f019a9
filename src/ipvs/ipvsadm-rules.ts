// A table in `ipvsadm -Sn` syntax (what ipvsadm-save prints and ipvsadm-restore reads), so a
// plan can be compared line by line with what keepalived or ipvsadm produces. The option
// order and omissions follow ipvsadm 1.31's own output (it does not save -x/-y thresholds).
import { hostPort, type Destination, type Service, type ServiceEntry } from './model.js';
import type { IpvsOperation } from './operations.js';

const protocolOption = { tcp: '-t', udp: '-u', sctp: '--sctp-service' } as const;
const forwardOption = { masq: '-m', route: '-g', tunnel: '-i', local: '-m', bypass: '-m' } as const;

function serviceSelector(s: Service): string {
  if (s.fwmark !== 0) return s.family === 'inet6' ? `-f ${s.fwmark} -6` : `-f ${s.fwmark}`;
  return `${protocolOption[s.protocol]} ${hostPort(s.address, s.port)}`;
}

function ipv4Netmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join('.');
}

function schedulerFlagNames(s: Service): string[] {
  const names =
    s.scheduler === 'sh' || s.scheduler === 'mh'
      ? [`${s.scheduler}-fallback`, `${s.scheduler}-port`, 'flag-3']
      : ['flag-1', 'flag-2', 'flag-3'];
  return [s.flags.sched1, s.flags.sched2, s.flags.sched3].flatMap((on, i) => (on ? [names[i]!] : []));
}

function serviceRule(s: Service): string {
  let line = `-A ${serviceSelector(s)} -s ${s.scheduler}`;
  if (s.flags.persistent) {
    line += ` -p ${s.timeout}`;
    if (s.netmask !== (s.family === 'inet' ? 32 : 128)) {
      line += ` -M ${s.family === 'inet' ? ipv4Netmask(s.netmask) : s.netmask}`;
    }
  }
  if (s.persistenceEngine) line += ` --pe ${s.persistenceEngine}`;
  if (s.flags.onePacket) line += ' -o';
  const flags = schedulerFlagNames(s);
  if (flags.length > 0) line += ` -b ${flags.join(',')}`;
  return line;
}

function destinationRule(s: Service, d: Destination): string {
  let line = `-a ${serviceSelector(s)} -r ${hostPort(d.address, d.port)} ${forwardOption[d.forward]} -w ${d.weight}`;
  if (d.forward === 'tunnel') {
    line += ` --tun-type ${d.tunnelType}`;
    if (d.tunnelType === 'gue') line += ` --tun-port ${d.tunnelPort}`;
    if (d.tunnelType !== 'ipip') line += ` --tun-${d.tunnelChecksum}`;
  }
  return line;
}

/** Every service and destination, one line each, sorted so two tables compare line by line. */
export function formatRules(entries: readonly ServiceEntry[]): string[] {
  const lines: string[] = [];
  for (const { service, destinations } of entries) {
    lines.push(serviceRule(service));
    for (const d of destinations) lines.push(destinationRule(service, d));
  }
  return lines.sort();
}

/** One operation as the ipvsadm command that would do the same: how a plan is printed. */
export function operationRule(op: IpvsOperation): string {
  switch (op.kind) {
    case 'add-service':
      return serviceRule(op.service);
    case 'update-service':
      return serviceRule(op.service).replace(/^-A/, '-E');
    case 'remove-service':
      return `-D ${serviceSelector(op.service)}`;
    case 'add-destination':
      return destinationRule(op.service, op.destination);
    case 'update-destination':
      return destinationRule(op.service, op.destination).replace(/^-a/, '-e');
    case 'remove-destination':
      return `-d ${serviceSelector(op.service)} -r ${hostPort(op.destination.address, op.destination.port)}`;
  }
}
