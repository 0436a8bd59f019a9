// SMTP_CHECK: read the 220 banner, HELO -> 250, QUIT -> 221. connect_timeout applies to the
// connect and to each reply.
import net from 'node:net';
import type { SmtpCheck } from '../src/config/model.js';
import { connectionKey, describeTarget, socketTarget } from './connection.js';
import { Attempt, describeError, probeKey, stepTimeout, type Probe, type ProbeResult } from './probe.js';
import { readReply } from './smtp-reply.js';

interface Step {
  /** What we wait for, for messages. */
  what: string;
  expect: number;
  /** Sent after this step's reply arrives; undefined = done. */
  next: string | undefined;
}

export function smtpProbe(spec: SmtpCheck): Probe {
  const label = `SMTP to ${describeTarget(spec)}`;
  const target = socketTarget(spec);
  const steps: Step[] = [
    { what: 'banner', expect: 220, next: `HELO ${spec.heloName}\r\n` },
    { what: 'HELO reply', expect: 250, next: 'QUIT\r\n' },
    { what: 'QUIT reply', expect: 221, next: undefined },
  ];

  function run(deadline: number): Promise<ProbeResult> {
    const attempt = new Attempt(label);
    if (stepTimeout(spec.connectTimeoutMs, deadline) <= 0) return Promise.resolve(attempt.fail('deadline passed before the connect'));
    return new Promise((resolve) => {
      let socket: net.Socket | undefined;
      let timer: NodeJS.Timeout | undefined;
      let step = 0;
      let buffer = '';
      let done = false;
      const finish = (result: ProbeResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket?.destroy();
        resolve(result);
      };
      const arm = (what: string): void => {
        clearTimeout(timer);
        const ms = stepTimeout(spec.connectTimeoutMs, deadline);
        timer = setTimeout(() => finish(attempt.fail(`no ${what} within ${Math.round(ms)} ms`)), ms);
      };
      arm('connection');
      try {
        socket = net.connect(target);
      } catch (err) {
        const { detail, hard } = describeError(err);
        return finish(attempt.fail(detail, hard));
      }
      socket.setEncoding('latin1');
      socket.once('connect', () => arm(steps[0]!.what));
      socket.on('error', (err) => {
        const { detail, hard } = describeError(err);
        finish(attempt.fail(detail, hard));
      });
      socket.on('end', () => finish(attempt.fail(`connection closed while waiting for the ${steps[step]!.what}`)));
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        for (;;) {
          let reply;
          try {
            reply = readReply(buffer);
          } catch (err) {
            return finish(attempt.fail((err as Error).message));
          }
          if (reply === null) return;
          buffer = buffer.slice(reply.length);
          const current = steps[step]!;
          if (reply.code !== current.expect) {
            return finish(attempt.fail(`${current.what} ${reply.code} ${reply.text}, expected ${current.expect}`.trimEnd()));
          }
          if (current.next === undefined) return finish(attempt.ok('banner, HELO and QUIT answered'));
          socket!.write(current.next);
          step++;
          arm(steps[step]!.what);
        }
      });
    });
  }

  return { key: probeKey('SMTP_CHECK', [connectionKey(spec), spec.heloName]), describe: () => label, run };
}
