// Where a connection-based checker connects from and to, as node's net/tls options.
import type { CheckConnection } from '../src/config/model.js';
import { hostPort } from './probe.js';

export interface SocketTarget {
  host: string;
  port: number;
  family: 4 | 6;
  localAddress?: string;
  localPort?: number;
}

export function socketTarget(spec: CheckConnection): SocketTarget {
  const target: SocketTarget = {
    host: spec.connectIp.address,
    port: spec.connectPort,
    family: spec.connectIp.family === 'inet6' ? 6 : 4,
  };
  if (spec.bindTo !== undefined) target.localAddress = spec.bindTo.address;
  if (spec.bindPort !== 0) target.localPort = spec.bindPort;
  return target;
}

/** "10.0.0.2:80", with " from 10.0.0.1" when bound to a source address. */
export function describeTarget(spec: CheckConnection): string {
  const to = hostPort(spec.connectIp.address, spec.connectPort);
  if (spec.bindTo === undefined && spec.bindPort === 0) return to;
  return `${to} from ${hostPort(spec.bindTo?.address ?? '*', spec.bindPort)}`;
}

/** The connection settings that change where a probe's packets go, for probe keys. */
export function connectionKey(spec: CheckConnection): unknown[] {
  return [spec.connectIp.address, spec.connectPort, spec.bindTo?.address ?? '', spec.bindPort, spec.bindInterface ?? '', spec.fwmark];
}

/**
 * Settings node's net and dgram sockets cannot apply (SO_BINDTODEVICE, SO_MARK), for a config
 * warning. PING_CHECK applies both on its raw socket and is not affected.
 */
export function unappliedSettings(spec: CheckConnection): string[] {
  const unapplied: string[] = [];
  if (spec.bindInterface !== undefined) unapplied.push(`bind_if ${spec.bindInterface}`);
  if (spec.fwmark !== 0) unapplied.push(`fwmark ${spec.fwmark}`);
  return unapplied;
}
