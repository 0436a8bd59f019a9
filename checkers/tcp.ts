// TCP_CHECK: success when the three-way handshake completes within connect_timeout.
import net from 'node:net';
import type { TcpCheck } from '../src/config/model.js';
import { connectionKey, describeTarget, socketTarget } from './connection.js';
import { Attempt, describeError, probeKey, stepTimeout, type Probe, type ProbeResult } from './probe.js';

export function tcpProbe(spec: TcpCheck): Probe {
  const label = `TCP connect to ${describeTarget(spec)}`;
  const target = socketTarget(spec);
  return {
    key: probeKey('TCP_CHECK', connectionKey(spec)),
    describe: () => label,
    run: (deadline) => connectOnce(label, target, spec.connectTimeoutMs, deadline),
  };
}

function connectOnce(label: string, target: net.TcpNetConnectOpts, connectTimeoutMs: number, deadline: number): Promise<ProbeResult> {
  const attempt = new Attempt(label);
  const timeout = stepTimeout(connectTimeoutMs, deadline);
  if (timeout <= 0) return Promise.resolve(attempt.fail('deadline passed before the connect'));
  return new Promise((resolve) => {
    let socket: net.Socket | undefined;
    const finish = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket?.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(attempt.fail(`no handshake within ${Math.round(timeout)} ms`)), timeout);
    try {
      socket = net.connect(target);
    } catch (err) {
      const { detail, hard } = describeError(err);
      finish(attempt.fail(detail, hard));
      return;
    }
    socket.once('connect', () => finish(attempt.ok('connected')));
    socket.once('error', (err) => {
      const { detail, hard } = describeError(err);
      finish(attempt.fail(detail, hard));
    });
  });
}
