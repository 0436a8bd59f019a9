// One datagram out over a connected UDP socket and the verdict on what comes back, shared by
// UDP_CHECK and DNS_CHECK: bind (bindto/bind_port), connect, send, then the first of a deciding
// reply, an ICMP error (port unreachable is a hard failure) or the step timeout; the socket and the
// timer are always released.
import dgram from 'node:dgram';
import type { CheckConnection } from '../src/config/model.js';
import { describeError, type Attempt, type ProbeResult } from './probe.js';

export interface Exchange {
  payload: Buffer;
  /** The verdict a datagram gives, or undefined to keep waiting (not ours). */
  onMessage: (message: Buffer) => ProbeResult | undefined;
  onTimeout: () => ProbeResult;
}

export function udpExchange(spec: CheckConnection, attempt: Attempt, timeoutMs: number, exchange: Exchange): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(spec.connectIp.family === 'inet6' ? 'udp6' : 'udp4');
    let done = false;
    const finish = (result: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        // Already closed by a failed bind: nothing left to release.
      }
      resolve(result);
    };
    const timer = setTimeout(() => finish(exchange.onTimeout()), timeoutMs);
    socket.on('error', (err) => {
      if ((err as { code?: string }).code === 'ECONNREFUSED') return finish(attempt.fail('ICMP port unreachable', true));
      const { detail, hard } = describeError(err);
      finish(attempt.fail(detail, hard));
    });
    socket.on('message', (message) => {
      const verdict = exchange.onMessage(message);
      if (verdict) finish(verdict);
    });
    const send = (): void => {
      try {
        socket.connect(spec.connectPort, spec.connectIp.address, () => {
          if (!done) socket.send(exchange.payload);
        });
      } catch (err) {
        finish(attempt.fail(describeError(err).detail));
      }
    };
    if (spec.bindTo !== undefined || spec.bindPort !== 0) socket.bind({ address: spec.bindTo?.address, port: spec.bindPort }, send);
    else send();
  });
}
