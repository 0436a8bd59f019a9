import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHexPayload, parseReplyPattern, replyMismatch } from '../../checkers/udp-reply.js';
import { udpProbe } from '../../checkers/udp.js';
import { udpSpec } from '../fixtures/checkers/specs.js';

async function bindUdp(type: 'udp4' | 'udp6', host: string, onMessage: (socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo) => void): Promise<[dgram.Socket, number]> {
  const socket = dgram.createSocket(type);
  socket.on('message', (msg, rinfo) => onMessage(socket, msg, rinfo));
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return [socket, socket.address().port];
}

async function freeUdpPort(type: 'udp4' | 'udp6', host: string): Promise<number> {
  const [socket, port] = await bindUdp(type, host, () => {});
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

const received: Buffer[] = [];
let echo: dgram.Socket;
let echoPort: number;
let echo6: dgram.Socket;
let echo6Port: number;
let silent: dgram.Socket;
let silentPort: number;

beforeAll(async () => {
  [echo, echoPort] = await bindUdp('udp4', '127.0.0.1', (s, msg, r) => {
    received.push(msg);
    s.send(Buffer.concat([Buffer.from([0xca, 0xfe]), msg]), r.port, r.address);
  });
  [echo6, echo6Port] = await bindUdp('udp6', '::1', (s, msg, r) => s.send(msg, r.port, r.address));
  [silent, silentPort] = await bindUdp('udp4', '127.0.0.1', () => {});
});

afterAll(() => {
  echo.close();
  echo6.close();
  silent.close();
});

const soon = (ms = 2000): number => performance.now() + ms;

describe('require_reply patterns', () => {
  it('matches with X nibble wildcards over the shorter length', () => {
    const p = parseReplyPattern('CAXE0X');
    expect(replyMismatch(Buffer.from([0xca, 0xfe, 0x01]), p, 0, 255)).toBeUndefined();
    expect(replyMismatch(Buffer.from([0xca, 0x0e]), p, 0, 255)).toBeUndefined();
    expect(replyMismatch(Buffer.from([0xca]), p, 0, 255)).toBeUndefined();
    expect(replyMismatch(Buffer.from([0xcb, 0xfe]), p, 0, 255)).toContain('byte 0 is 0xcb');
    expect(replyMismatch(Buffer.from([0xca, 0xfe, 0x11]), p, 0, 255)).toContain('byte 2');
    expect(replyMismatch(Buffer.from([1]), undefined, 2, 255)).toContain('shorter than min_reply_length 2');
    expect(replyMismatch(Buffer.alloc(9), undefined, 0, 8)).toContain('longer than max_reply_length 8');
    expect(() => parseReplyPattern('abc')).toThrow(/even number/);
    expect(parseHexPayload('0a0B')).toEqual(Buffer.from([10, 11]));
    expect(() => parseHexPayload('0g')).toThrow();
  });
});

describe('UDP_CHECK', () => {
  it('succeeds when no ICMP error arrives, sending the configured payload', async () => {
    const result = await udpProbe(udpSpec('127.0.0.1', silentPort, { payload: 'deadbeef', connectTimeoutMs: 150 })).run(soon());
    expect(result.ok).toBe(true);
    expect(result.reason).toBe(`UDP to 127.0.0.1:${silentPort}: no ICMP error within 150 ms`);
  });

  it('fails hard on ICMP port unreachable', async () => {
    const port = await freeUdpPort('udp4', '127.0.0.1');
    const result = await udpProbe(udpSpec('127.0.0.1', port, { connectTimeoutMs: 1000 })).run(soon());
    expect(result).toMatchObject({ ok: false, hard: true, reason: `UDP to 127.0.0.1:${port}: ICMP port unreachable` });
    const port6 = await freeUdpPort('udp6', '::1');
    expect(await udpProbe(udpSpec('::1', port6)).run(soon())).toMatchObject({ ok: false, hard: true });
  });

  it('requires a matching reply when asked', async () => {
    received.length = 0;
    const ok = await udpProbe(udpSpec('127.0.0.1', echoPort, { payload: '0102', requireReply: 'CAFE01XX' })).run(soon());
    expect(ok).toMatchObject({ ok: true, reason: `UDP to 127.0.0.1:${echoPort} (reply required): reply of 4 bytes` });
    expect(received[0]).toEqual(Buffer.from([1, 2]));
    const bad = await udpProbe(udpSpec('127.0.0.1', echoPort, { payload: '0102', requireReply: 'CAFE02' })).run(soon());
    expect(bad.ok).toBe(false);
    expect(bad.reason).toContain('byte 2 is 0x01');
    const short = await udpProbe(udpSpec('127.0.0.1', echoPort, { payload: '01', requireReply: 'CA', minReplyLength: 8 })).run(soon());
    expect(short.reason).toContain('shorter than min_reply_length 8');
    expect((await udpProbe(udpSpec('::1', echo6Port, { requireReply: 'XX' })).run(soon())).ok).toBe(true);
  });

  it('sends a random payload when none is configured', async () => {
    received.length = 0;
    await udpProbe(udpSpec('127.0.0.1', echoPort, { requireReply: 'CAFE' })).run(soon());
    await udpProbe(udpSpec('127.0.0.1', echoPort, { requireReply: 'CAFE' })).run(soon());
    expect(received).toHaveLength(2);
    expect(received[0]!.length).toBeGreaterThan(0);
    expect(received[0]).not.toEqual(received[1]);
  });

  it('fails, not hard, when a required reply never comes', async () => {
    const result = await udpProbe(udpSpec('127.0.0.1', silentPort, { requireReply: '00', connectTimeoutMs: 100 })).run(soon());
    expect(result).toMatchObject({ ok: false, reason: `UDP to 127.0.0.1:${silentPort} (reply required): no reply within 100 ms` });
    expect(result.hard).toBeUndefined();
  });

  it('reports a bad pattern instead of throwing, and keys on what is sent', async () => {
    expect((await udpProbe(udpSpec('127.0.0.1', echoPort, { requireReply: 'ABC' })).run(soon())).reason).toContain('even number');
    expect(udpProbe(udpSpec('127.0.0.1', 1, { payload: '01' })).key).toBe(udpProbe(udpSpec('127.0.0.1', 1, { payload: '01', connectTimeoutMs: 9 })).key);
    expect(udpProbe(udpSpec('127.0.0.1', 1, { payload: '01' })).key).not.toBe(udpProbe(udpSpec('127.0.0.1', 1, { payload: '02' })).key);
  });
});
