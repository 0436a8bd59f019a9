// UDP_CHECK: send the payload over a connected UDP socket. Without require_reply, success unless
// an ICMP error (seen as ECONNREFUSED on the connected socket) arrives within connect_timeout;
// with it, the first reply must fit the length bounds and the pattern.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import type { UdpCheck } from '../src/config/model.js';
import { connectionKey, describeTarget } from './connection.js';
import { Attempt, describeError, probeKey, stepTimeout, type Probe, type ProbeResult } from './probe.js';
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
    return new Promise((resolve) => {
      const socket = dgram.createSocket(spec.connectIp.family === 'inet6' ? 'udp6' : 'udp4');
      let timer: NodeJS.Timeout | undefined;
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
      socket.on('error', (err) => {
        const code = (err as { code?: string }).code;
        if (code === 'ECONNREFUSED') return finish(attempt.fail('ICMP port unreachable', true));
        const { detail, hard } = describeError(err);
        finish(attempt.fail(detail, hard));
      });
      socket.on('message', (reply) => {
        const mismatch = replyMismatch(reply, pattern, spec.minReplyLength, spec.maxReplyLength);
        if (spec.requireReply === undefined || mismatch === undefined) finish(attempt.ok(`reply of ${reply.length} bytes`));
        else finish(attempt.fail(mismatch));
      });
      timer = setTimeout(() => {
        if (spec.requireReply === undefined) finish(attempt.ok(`no ICMP error within ${Math.round(timeout)} ms`));
        else finish(attempt.fail(`no reply within ${Math.round(timeout)} ms`));
      }, timeout);
      const send = (): void => {
        try {
          socket.connect(spec.connectPort, spec.connectIp.address, () => {
            if (!done) socket.send(payload ?? randomBytes(RANDOM_PAYLOAD_BYTES));
          });
        } catch (err) {
          finish(attempt.fail(describeError(err).detail));
        }
      };
      if (spec.bindTo !== undefined || spec.bindPort !== 0) socket.bind({ address: spec.bindTo?.address, port: spec.bindPort }, send);
      else send();
    });
  }

  return { key: probeKey('UDP_CHECK', keyParts), describe: () => label, run };
}
