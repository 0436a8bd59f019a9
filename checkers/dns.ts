// DNS_CHECK: one UDP query with RD and a random id; success is a response with that id, QR set
// and RCODE 0 (the answer count is not checked, as keepalived). Other datagrams are ignored.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import type { DnsCheck } from '../src/config/model.js';
import { connectionKey, describeTarget } from './connection.js';
import { encodeQuery, parseHeader, rcodeName } from './dns-message.js';
import { Attempt, describeError, probeKey, stepTimeout, type Probe, type ProbeResult } from './probe.js';

export function dnsProbe(spec: DnsCheck): Probe {
  const label = `DNS ${spec.queryType} ${spec.name} query to ${describeTarget(spec)}`;
  let setupError: string | undefined;
  try {
    encodeQuery(0, spec.name, spec.queryType);
  } catch (err) {
    setupError = (err as Error).message;
  }

  function run(deadline: number): Promise<ProbeResult> {
    const attempt = new Attempt(label);
    if (setupError !== undefined) return Promise.resolve(attempt.fail(setupError));
    const timeout = stepTimeout(spec.connectTimeoutMs, deadline);
    if (timeout <= 0) return Promise.resolve(attempt.fail('deadline passed before sending'));
    const id = randomInt(0x10000);
    const query = encodeQuery(id, spec.name, spec.queryType);
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
      const timer = setTimeout(() => finish(attempt.fail(`no answer within ${Math.round(timeout)} ms`)), timeout);
      socket.on('error', (err) => {
        if ((err as { code?: string }).code === 'ECONNREFUSED') return finish(attempt.fail('ICMP port unreachable', true));
        const { detail, hard } = describeError(err);
        finish(attempt.fail(detail, hard));
      });
      socket.on('message', (message) => {
        const header = parseHeader(message);
        if (header === null || header.id !== id || !header.isResponse) return;
        if (header.rcode === 0) finish(attempt.ok(`NOERROR, ${header.answers} answer${header.answers === 1 ? '' : 's'}`));
        else finish(attempt.fail(`answered ${rcodeName(header.rcode)}`));
      });
      const send = (): void => {
        try {
          socket.connect(spec.connectPort, spec.connectIp.address, () => {
            if (!done) socket.send(query);
          });
        } catch (err) {
          finish(attempt.fail(describeError(err).detail));
        }
      };
      if (spec.bindTo !== undefined || spec.bindPort !== 0) socket.bind({ address: spec.bindTo?.address, port: spec.bindPort }, send);
      else send();
    });
  }

  return { key: probeKey('DNS_CHECK', [connectionKey(spec), spec.queryType, spec.name]), describe: () => label, run };
}
