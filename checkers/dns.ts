// DNS_CHECK: one UDP query with RD and a random id; success is a response with that id, QR set
// and RCODE 0 (the answer count is not checked, as keepalived). Other datagrams are ignored.
import { randomInt } from 'node:crypto';
import type { DnsCheck } from '../src/config/model.js';
import { connectionKey, describeTarget } from './connection.js';
import { encodeQuery, parseHeader, rcodeName } from './dns-message.js';
import { Attempt, probeKey, stepTimeout, type Probe, type ProbeResult } from './probe.js';
import { udpExchange } from './udp-exchange.js';

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
    return udpExchange(spec, attempt, timeout, {
      payload: query,
      onMessage: (message) => {
        const header = parseHeader(message);
        if (header === null || header.id !== id || !header.isResponse) return undefined;
        if (header.rcode === 0) return attempt.ok(`NOERROR, ${header.answers} answer${header.answers === 1 ? '' : 's'}`);
        return attempt.fail(`answered ${rcodeName(header.rcode)}`);
      },
      onTimeout: () => attempt.fail(`no answer within ${Math.round(timeout)} ms`),
    });
  }

  return { key: probeKey('DNS_CHECK', [connectionKey(spec), spec.queryType, spec.name]), describe: () => label, run };
}
