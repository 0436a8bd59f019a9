import { describe, expect, it } from 'vitest';
import { portCandidates } from '../../checkers/syn-prober.js';
import { SYN_LENGTH, emptyReply, fillChecksum, readQuotedSyn, readReply, tcpChecksum, writeSyn } from '../../checkers/tcp-segment.js';

const v4 = (text: string): Buffer => Buffer.from(text.split('.').map(Number));
const v6Loopback = Buffer.concat([Buffer.alloc(15), Buffer.from([1])]);

function ipv4Header(protocol: number, source: Buffer, destination: Buffer, ihl = 5): Buffer {
  const header = Buffer.alloc(ihl * 4);
  header[0] = 0x40 | ihl;
  header[9] = protocol;
  source.copy(header, 12);
  destination.copy(header, 16);
  return header;
}

function segment(flags: number, sourcePort: number, destinationPort: number, seq: number, ack: number): Buffer {
  const s = Buffer.alloc(20);
  s.writeUInt16BE(sourcePort, 0);
  s.writeUInt16BE(destinationPort, 2);
  s.writeUInt32BE(seq, 4);
  s.writeUInt32BE(ack, 8);
  s[12] = 5 << 4;
  s[13] = flags;
  return s;
}

describe('TCP SYN segment', () => {
  it('lays out a SYN with an MSS option', () => {
    const syn = Buffer.alloc(SYN_LENGTH, 0xaa);
    writeSyn(syn, 61000, 80, 0xdeadbeef, 1460);
    expect(syn.toString('hex')).toBe('ee480050' + 'deadbeef' + '00000000' + '6002' + 'faf0' + '0000' + '0000' + '020405b4');
  });

  it('computes a checksum that verifies over the IPv4 and IPv6 pseudo-headers', () => {
    const syn = Buffer.alloc(SYN_LENGTH);
    writeSyn(syn, 61001, 443, 12345, 1460);
    fillChecksum(syn, v4('10.0.0.1'), v4('10.0.0.2'));
    expect(syn.readUInt16BE(16)).not.toBe(0);
    expect(tcpChecksum(syn, v4('10.0.0.1'), v4('10.0.0.2'))).toBe(0);
    // The pseudo-header counts: another source gives another sum.
    expect(tcpChecksum(syn, v4('10.0.0.3'), v4('10.0.0.2'))).not.toBe(0);
    fillChecksum(syn, v6Loopback, v6Loopback);
    expect(tcpChecksum(syn, v6Loopback, v6Loopback)).toBe(0);
  });

  it('matches a known checksum (RFC 1071 arithmetic, odd length padded)', () => {
    // Pseudo-header 1.2.3.4 -> 5.6.7.8, proto 6, length 3: words 0x0102 0x0304 0x0506 0x0708 0x0006 0x0003
    // plus data 0x0102 0x0300 = 0x141f; one's complement = 0xebe0.
    expect(tcpChecksum(Buffer.from([1, 2, 3]), v4('1.2.3.4'), v4('5.6.7.8'))).toBe(0xebe0);
  });
});

describe('TCP replies', () => {
  const SYN = 0x02;
  const RST = 0x04;
  const ACK = 0x10;
  const FIN = 0x01;
  const peer = v4('10.0.0.2');
  const us = v4('10.0.0.1');

  it('reads a SYN-ACK after an IPv4 header with options', () => {
    const reply = emptyReply();
    const datagram = Buffer.concat([ipv4Header(6, peer, us, 6), segment(SYN | ACK, 80, 61000, 7, 0x10000000)]);
    expect(readReply(datagram, true, reply)).toBe(true);
    expect(reply).toEqual({ kind: 'syn-ack', peerPort: 80, ourPort: 61000, ack: 0x10000000 });
  });

  it('reads a RST+ACK without an IP header (IPv6)', () => {
    const reply = emptyReply();
    expect(readReply(segment(RST | ACK, 8080, 61002, 0, 0xffffffff), false, reply)).toBe(true);
    expect(reply).toEqual({ kind: 'reset', peerPort: 8080, ourPort: 61002, ack: 0xffffffff });
  });

  it('ignores our own SYN, a bare RST, data and truncated segments', () => {
    const reply = emptyReply();
    expect(readReply(segment(SYN, 61000, 80, 1, 0), false, reply)).toBe(false);
    expect(readReply(segment(RST, 80, 61000, 1, 0), false, reply)).toBe(false);
    expect(readReply(segment(ACK, 80, 61000, 1, 2), false, reply)).toBe(false);
    expect(readReply(segment(FIN | ACK, 80, 61000, 1, 2), false, reply)).toBe(false);
    expect(readReply(segment(SYN | RST | ACK, 80, 61000, 1, 2), false, reply)).toBe(false);
    expect(readReply(Buffer.alloc(19), false, reply)).toBe(false);
    expect(readReply(Buffer.concat([ipv4Header(6, peer, us), Buffer.alloc(10)]), true, reply)).toBe(false);
  });
});

describe('ICMP errors quoting a SYN', () => {
  it('finds the SYN in an IPv4 host unreachable', () => {
    const syn = Buffer.alloc(SYN_LENGTH);
    writeSyn(syn, 61000, 80, 41, 1460);
    const icmp = Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]);
    const router = v4('10.0.0.254');
    const datagram = Buffer.concat([ipv4Header(1, router, v4('10.0.0.1')), icmp, ipv4Header(6, v4('10.0.0.1'), v4('10.0.0.9')), syn.subarray(0, 8)]);
    expect(readQuotedSyn('inet', datagram)).toEqual({ code: 1, destination: v4('10.0.0.9'), ourPort: 61000, peerPort: 80, ack: 42 });
  });

  it('finds the SYN in an ICMPv6 address unreachable, and ignores other quotes', () => {
    const syn = Buffer.alloc(SYN_LENGTH);
    writeSyn(syn, 61003, 443, 0xffffffff, 1440);
    const inner = Buffer.alloc(40);
    inner[6] = 6;
    v6Loopback.copy(inner, 24);
    const datagram = Buffer.concat([Buffer.from([1, 3, 0, 0, 0, 0, 0, 0]), inner, syn]);
    expect(readQuotedSyn('inet6', datagram)).toEqual({ code: 3, destination: v6Loopback, ourPort: 61003, peerPort: 443, ack: 0 });
    inner[6] = 17;
    expect(readQuotedSyn('inet6', Buffer.concat([Buffer.from([1, 3, 0, 0, 0, 0, 0, 0]), inner, syn]))).toBeNull();
    expect(readQuotedSyn('inet6', Buffer.concat([Buffer.from([129, 0, 0, 0, 0, 0, 0, 0]), inner, syn]))).toBeNull();
    expect(readQuotedSyn('inet', Buffer.alloc(30))).toBeNull();
  });
});

describe('reserved source ports', () => {
  it('come from above ip_local_port_range first, then below it', () => {
    const ports = [...portCandidates('32768\t60999\n')];
    expect(ports[0]).toBe(61000);
    expect(ports[4535]).toBe(65535);
    expect(ports[4536]).toBe(32767);
    expect(ports.at(-1)).toBe(1024);
    expect([...portCandidates('1024 65535')]).toEqual([]);
  });
});
