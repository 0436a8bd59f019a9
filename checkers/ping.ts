// PING_CHECK: one ICMP or ICMPv6 echo over the shared raw socket; success on the reply within
// connect_timeout. keepalived uses an unprivileged ping socket; a raw socket needs CAP_NET_RAW
// but no ping_group_range change.
import type { PingCheck } from '../src/config/model.js';
import { describeUnreachable } from './icmp.js';
import { acquirePinger, releasePinger, type PingSource } from './pinger.js';
import { Attempt, describeError, probeKey, stepTimeout, type Probe, type ProbeResult } from './probe.js';

export function pingProbe(spec: PingCheck): Probe {
  const address = spec.connectIp.address;
  const family = spec.connectIp.family;
  const source: PingSource = { family, bindTo: spec.bindTo?.address, bindInterface: spec.bindInterface, fwmark: spec.fwmark };
  const label = `ICMP${family === 'inet6' ? 'v6' : ''} echo to ${address}` + (source.bindTo !== undefined ? ` from ${source.bindTo}` : '');
  const pinger = acquirePinger(source);
  let closed = false;
  return {
    key: probeKey('PING_CHECK', [address, source.bindTo ?? '', source.bindInterface ?? '', source.fwmark]),
    describe: () => label,
    run(deadline: number): Promise<ProbeResult> {
      const attempt = new Attempt(label);
      if (closed) return Promise.resolve(attempt.fail('probe is closed'));
      const timeout = stepTimeout(spec.connectTimeoutMs, deadline);
      if (timeout <= 0) return Promise.resolve(attempt.fail('deadline passed before the echo was sent'));
      return new Promise((resolve) => {
        pinger.echo(address, timeout, (outcome) => {
          switch (outcome.kind) {
            case 'reply':
              return resolve(attempt.ok('echo reply'));
            case 'unreachable':
              return resolve(attempt.fail(describeUnreachable(family, outcome.code), true));
            case 'timeout':
              return resolve(attempt.fail(`no echo reply within ${Math.round(timeout)} ms`));
            case 'error': {
              const { detail, hard } = describeError(outcome.error);
              return resolve(attempt.fail(detail, hard));
            }
          }
        });
      });
    },
    close(): void {
      if (closed) return;
      closed = true;
      releasePinger(source, pinger);
    },
  };
}
