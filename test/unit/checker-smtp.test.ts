import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReply } from '../../checkers/smtp-reply.js';
import { smtpProbe } from '../../checkers/smtp.js';
import { closeServer, closedPort, listen, track } from '../fixtures/checkers/servers.js';
import { smtpSpec } from '../fixtures/checkers/specs.js';

type Mode = 'good' | 'busy' | 'silent' | 'no-quit-reply' | 'bad-helo';
let mode: Mode = 'good';
const commands: string[] = [];

/** A tiny SMTP server: multi-line banner and EHLO-style HELO reply, split across writes. */
const server = net.createServer((socket) => {
  if (mode === 'silent') return;
  if (mode === 'busy') {
    socket.end('554 5.3.2 too busy\r\n');
    return;
  }
  socket.write('220-mx.example.test ESMTP\r\n220-second line\r');
  setTimeout(() => socket.write('\n220 ready\r\n'), 5);
  let buffer = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      commands.push(line);
      if (line.startsWith('HELO')) socket.write(mode === 'bad-helo' ? '501 syntax\r\n' : '250-mx.example.test\r\n250 PIPELINING\r\n');
      else if (line === 'QUIT' && mode !== 'no-quit-reply') socket.end('221 bye\r\n');
    }
  });
});
let sockets: Set<net.Socket>;
let port: number;

beforeAll(async () => {
  sockets = track(server);
  port = await listen(server);
});
afterAll(() => closeServer(server, sockets));

const soon = (ms = 2000): number => performance.now() + ms;

describe('SMTP replies', () => {
  it('waits for the last line of a multi-line reply', () => {
    expect(readReply('250-a\r\n250-b\r\n')).toBeNull();
    expect(readReply('250-a\r\n250 b\r\n221 x')).toEqual({ code: 250, text: 'b', length: 14 });
    expect(readReply('220\r\n')).toEqual({ code: 220, text: '', length: 5 });
    expect(() => readReply('hello\r\n')).toThrow(/malformed/);
  });
});

describe('SMTP_CHECK', () => {
  it('passes banner, HELO and QUIT', async () => {
    mode = 'good';
    commands.length = 0;
    const probe = smtpProbe(smtpSpec('127.0.0.1', port, { heloName: 'checker.example' }));
    const result = await probe.run(soon());
    expect(result).toMatchObject({ ok: true, reason: `SMTP to 127.0.0.1:${port}: banner, HELO and QUIT answered` });
    expect(commands).toEqual(['HELO checker.example', 'QUIT']);
  });

  it('fails on a banner other than 220', async () => {
    mode = 'busy';
    const result = await smtpProbe(smtpSpec('127.0.0.1', port)).run(soon());
    expect(result).toMatchObject({ ok: false, reason: `SMTP to 127.0.0.1:${port}: banner 554 5.3.2 too busy, expected 220` });
    expect(result.hard).toBeUndefined();
  });

  it('fails on a HELO refusal and a missing QUIT reply', async () => {
    mode = 'bad-helo';
    expect((await smtpProbe(smtpSpec('127.0.0.1', port)).run(soon())).reason).toContain('HELO reply 501 syntax, expected 250');
    mode = 'no-quit-reply';
    expect((await smtpProbe(smtpSpec('127.0.0.1', port, { connectTimeoutMs: 150 })).run(soon())).reason).toContain('no QUIT reply within 150 ms');
  });

  it('times out a silent server per step and stops at the deadline', async () => {
    mode = 'silent';
    const step = await smtpProbe(smtpSpec('127.0.0.1', port, { connectTimeoutMs: 150 })).run(soon());
    expect(step.reason).toContain('no banner within 150 ms');
    expect(step.hard).toBeUndefined();
    const cut = await smtpProbe(smtpSpec('127.0.0.1', port, { connectTimeoutMs: 5000 })).run(soon(120));
    expect(cut.ok).toBe(false);
    expect(cut.durationMs).toBeLessThan(3000);
  });

  it('fails hard when refused', async () => {
    expect(await smtpProbe(smtpSpec('127.0.0.1', await closedPort())).run(soon())).toMatchObject({ ok: false, hard: true });
  });
});
