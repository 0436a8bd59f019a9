// UDP_CHECK: send the payload over a connected UDP socket. Without require_reply, success unless
// an ICMP error (seen as ECONNREFUSED on the connected socket) arrives within connect_timeout;
// with it, the first reply must fit the length bounds and the pattern.
import { randomBytes } from 'node:crypto';
import type { UdpCheck } from '../src/config/model.js';
import { connectionKey, describeTarget } from './connection.js';
import { Attempt, probeKey, stepTimeout, type Probe, type ProbeResult } from './probe.js';
import { udpExchange } from './udp-exchange.js';
import { parseHexPayload, parseReplyPattern, replyMismatch, type ReplyPattern } from './udp-reply.js';

const RANDOM_PAYLOAD_BYTES = 16;

export function udpProbe(spec: UdpCheck): Probe {
  const label = `UDP to ${describeTarget(spec)}` + (spec.requireReply !== undefined ? ' (reply required)' : '');
  let setupError: string | undefined;
  let pattern: ReplyPattern | undefined;
  let payload: Buffer | undefined;
  try {
    if (spec.requireReply !== undefined) pattern = parseReplyPattern(spec.requireReply);
    if (spec.payload !== undefined) payload = parseHexPayload(spec.payload);
  } catch (err) {
    setupError = (err as Error).message;
  }
  const keyParts = [connectionKey(spec), spec.payload ?? 'random', spec.requireReply ?? '', spec.minReplyLength, spec.maxReplyLength];

  function run(deadline: number): Promise<ProbeResult> {
    const attempt = new Attempt(label);
    if (setupError !== undefined) return Promise.resolve(attempt.fail(setupError));
    const timeout = stepTimeout(spec.connectTimeoutMs, deadline);
    if (timeout <= 0) return Promise.resolve(attempt.fail('deadline passed before sending'));
    return udpExchange(spec, attempt, timeout, {
      payload: payload ?? randomBytes(RANDOM_PAYLOAD_BYTES),
      onMessage: (reply) => {
        const mismatch = replyMismatch(reply, pattern, spec.minReplyLength, spec.maxReplyLength);
        if (spec.requireReply === undefined || mismatch === undefined) return attempt.ok(`reply of ${reply.length} bytes`);
        return attempt.fail(mismatch);
      },
      onTimeout: () =>
        spec.requireReply === undefined
          ? attempt.ok(`no ICMP error within ${Math.round(timeout)} ms`)
          : attempt.fail(`no reply within ${Math.round(timeout)} ms`),
    });
  }

  return { key: probeKey('UDP_CHECK', keyParts), describe: () => label, run };
}
