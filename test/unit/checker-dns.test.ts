import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeQuery, parseHeader, rcodeName } from '../../checkers/dns-message.js';
import { dnsProbe } from '../../checkers/dns.js';
import { dnsSpec } from '../fixtures/checkers/specs.js';

type Behaviour = 'answer' | 'nxdomain' | 'wrong-id-then-answer' | 'wrong-id-only' | 'query-echo';

let behaviour: Behaviour = 'answer';
const queries: Buffer[] = [];
let server: dgram.Socket;
let port: number;

/** A tiny responder: copies id and question, sets QR, RA and the chosen RCODE. */
function respond(query: Buffer, rcode: number, idDelta = 0, qr = true): Buffer {
  const reply = Buffer.from(query);
  reply.writeUInt16BE((query.readUInt16BE(0) + idDelta) & 0xffff, 0);
  reply.writeUInt16BE((qr ? 0x8000 : 0) | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
  return reply;
}

beforeAll(async () => {
  server = dgram.createSocket('udp4');
  server.on('message', (query, r) => {
    queries.push(query);
    const send = (b: Buffer): void => void server.send(b, r.port, r.address);
    switch (behaviour) {
      case 'answer':
        return send(respond(query, 0));
      case 'nxdomain':
        return send(respond(query, 3));
      case 'wrong-id-then-answer':
        send(respond(query, 0, 1));
        send(respond(query, 0, 0, false));
        return void setTimeout(() => send(respond(query, 0)), 20);
      case 'wrong-id-only':
        return send(respond(query, 0, 1));
      case 'query-echo':
        return send(query);
    }
  });
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
  port = server.address().port;
});

afterAll(() => server.close());

const soon = (): number => performance.now() + 2000;

describe('DNS query encoding', () => {
  it('encodes a root SOA query with RD', () => {
    expect([...encodeQuery(0xabcd, '.', 'SOA')]).toEqual([0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]);
  });

  it('encodes labels of a name with or without the final dot', () => {
    const q = encodeQuery(1, 'www.example.com.', 'AAAA');
    expect(q.subarray(12).toString('latin1')).toBe('\x03www\x07example\x03com\x00\x00\x1c\x00\x01');
    expect(encodeQuery(1, 'www.example.com', 'AAAA')).toEqual(q);
    expect(() => encodeQuery(1, 'a..b', 'A')).toThrow(/empty or over-long/);
  });

  it('reads the response header', () => {
    expect(parseHeader(Buffer.from([0, 7, 0x81, 0x83, 0, 1, 0, 2, 0, 0, 0, 0]))).toEqual({ id: 7, isResponse: true, rcode: 3, answers: 2 });
    expect(parseHeader(Buffer.alloc(5))).toBeNull();
    expect(rcodeName(2)).toBe('SERVFAIL');
  });
});

describe('DNS_CHECK', () => {
  it('succeeds on a NOERROR response to its query with a random id', async () => {
    behaviour = 'answer';
    queries.length = 0;
    const probe = dnsProbe(dnsSpec('127.0.0.1', port, { queryType: 'A', name: 'www.example.com' }));
    expect(probe.describe()).toBe(`DNS A www.example.com query to 127.0.0.1:${port}`);
    expect(await probe.run(soon())).toMatchObject({ ok: true, reason: `DNS A www.example.com query to 127.0.0.1:${port}: NOERROR, 0 answers` });
    await probe.run(soon());
    expect(queries[0]!.readUInt16BE(0)).not.toBe(queries[1]!.readUInt16BE(0));
    expect(queries[0]!.readUInt16BE(2) & 0x0100).toBe(0x0100);
  });

  it('fails on a non-zero RCODE', async () => {
    behaviour = 'nxdomain';
    const result = await dnsProbe(dnsSpec('127.0.0.1', port)).run(soon());
    expect(result).toMatchObject({ ok: false, reason: `DNS SOA . query to 127.0.0.1:${port}: answered NXDOMAIN` });
  });

  it('ignores a response with another id and a message without QR', async () => {
    behaviour = 'wrong-id-then-answer';
    expect((await dnsProbe(dnsSpec('127.0.0.1', port)).run(soon())).ok).toBe(true);
    behaviour = 'wrong-id-only';
    const result = await dnsProbe(dnsSpec('127.0.0.1', port, { connectTimeoutMs: 150 })).run(soon());
    expect(result).toMatchObject({ ok: false, reason: `DNS SOA . query to 127.0.0.1:${port}: no answer within 150 ms` });
    behaviour = 'query-echo';
    expect((await dnsProbe(dnsSpec('127.0.0.1', port, { connectTimeoutMs: 100 })).run(soon())).ok).toBe(false);
  });

  it('fails hard when nothing listens', async () => {
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const closed = probe.address().port;
    probe.close();
    expect(await dnsProbe(dnsSpec('127.0.0.1', closed)).run(soon())).toMatchObject({ ok: false, hard: true });
  });

  it('keys on the question', () => {
    expect(dnsProbe(dnsSpec('127.0.0.1', 53)).key).toBe(dnsProbe(dnsSpec('127.0.0.1', 53, { retry: 9 })).key);
    expect(dnsProbe(dnsSpec('127.0.0.1', 53)).key).not.toBe(dnsProbe(dnsSpec('127.0.0.1', 53, { queryType: 'A' })).key);
  });
});
