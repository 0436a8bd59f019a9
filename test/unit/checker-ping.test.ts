import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeUnreachable, encodeEchoRequest, internetChecksum, parseIcmp } from '../../checkers/icmp.js';
import { pingProbe } from '../../checkers/ping.js';
import { icmpFilter } from '../../checkers/pinger.js';
import type { Probe } from '../../checkers/probe.js';
import { pingSpec } from '../fixtures/checkers/specs.js';

const ipv4Header = (protocol: number): Buffer => {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h[9] = protocol;
  return h;
};

describe('ICMP codec', () => {
  it('builds an IPv4 echo request whose checksum verifies', () => {
    const packet = encodeEchoRequest('inet', 0x1234, 0xbeef, Buffer.from('abc'));
    expect([...packet.subarray(0, 8)]).toEqual([8, 0, packet[2], packet[3], 0x12, 0x34, 0xbe, 0xef]);
    expect(internetChecksum(packet)).toBe(0);
    expect(packet.subarray(8).toString()).toBe('abc');
  });

  it('leaves the ICMPv6 checksum to the kernel', () => {
    const packet = encodeEchoRequest('inet6', 1, 2, Buffer.alloc(4));
    expect(packet[0]).toBe(128);
    expect(packet.readUInt16BE(2)).toBe(0);
  });

  it('reads echo replies after the IPv4 header and ignores requests', () => {
    const reply = encodeEchoRequest('inet', 7, 9, Buffer.alloc(0));
    reply[0] = 0;
    expect(parseIcmp('inet', Buffer.concat([ipv4Header(1), reply]))).toEqual({ kind: 'reply', id: 7, seq: 9 });
    expect(parseIcmp('inet', Buffer.concat([ipv4Header(1), encodeEchoRequest('inet', 7, 9, Buffer.alloc(0))]))).toBeNull();
    const v6reply = encodeEchoRequest('inet6', 7, 9, Buffer.alloc(0));
    v6reply[0] = 129;
    expect(parseIcmp('inet6', v6reply)).toEqual({ kind: 'reply', id: 7, seq: 9 });
  });

  it('finds our echo inside a destination-unreachable error', () => {
    const error = Buffer.alloc(8);
    error[0] = 3;
    error[1] = 1;
    const quoted = Buffer.concat([ipv4Header(1), encodeEchoRequest('inet', 0x55, 0x66, Buffer.alloc(0))]);
    expect(parseIcmp('inet', Buffer.concat([ipv4Header(1), error, quoted]))).toEqual({ kind: 'unreachable', id: 0x55, seq: 0x66, code: 1 });
    const error6 = Buffer.alloc(8);
    error6[0] = 1;
    error6[1] = 3;
    const quoted6 = Buffer.concat([Buffer.alloc(40), encodeEchoRequest('inet6', 0x55, 0x67, Buffer.alloc(0))]);
    expect(parseIcmp('inet6', Buffer.concat([error6, quoted6]))).toEqual({ kind: 'unreachable', id: 0x55, seq: 0x67, code: 3 });
    expect(describeUnreachable('inet', 1)).toBe('ICMP host unreachable');
    expect(describeUnreachable('inet6', 3)).toBe('ICMPv6 address unreachable');
    expect(parseIcmp('inet', Buffer.alloc(10))).toBeNull();
  });
});

describe('kernel ICMP filters', () => {
  it('let only echo replies and destination unreachables through', () => {
    const [level4, name4, mask] = icmpFilter('inet');
    expect([level4, name4]).toEqual([255, 1]);
    expect((mask as number) >>> 0).toBe(0xfffffff6);
    const [level6, name6, filter] = icmpFilter('inet6');
    expect([level6, name6]).toEqual([58, 1]);
    const words = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => (filter as Buffer).readUInt32LE(i * 4));
    expect(words).toEqual([0xfffffffd, 0xffffffff, 0xffffffff, 0xffffffff, 0xfffffffd, 0xffffffff, 0xffffffff, 0xffffffff]);
  });
});

describe('PING_CHECK (raw socket, needs root)', () => {
  const probes: Probe[] = [];
  const make = (address: string): Probe => {
    const probe = pingProbe(pingSpec(address));
    probes.push(probe);
    return probe;
  };
  afterEach(() => {
    for (const p of probes.splice(0)) p.close?.();
  });

  it('gets an echo reply from 127.0.0.1', async () => {
    const probe = make('127.0.0.1');
    expect(probe.describe()).toBe('ICMP echo to 127.0.0.1');
    const result = await probe.run(performance.now() + 1000);
    expect(result).toMatchObject({ ok: true, reason: 'ICMP echo to 127.0.0.1: echo reply' });
  });

  it('gets an echo reply from ::1', async () => {
    const result = await make('::1').run(performance.now() + 1000);
    expect(result).toMatchObject({ ok: true, reason: 'ICMPv6 echo to ::1: echo reply' });
  });

  it('matches many concurrent echoes to their probes over one socket', async () => {
    const targets = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '::1'];
    const all = targets.flatMap((t) => [make(t), make(t)]);
    const results = await Promise.all(all.map((p) => p.run(performance.now() + 1000)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.map((r) => r.reason)).toEqual(all.map((p) => `${p.describe()}: echo reply`));
  });

  it('sends from bindto on a socket of its own', async () => {
    const probe = pingProbe(pingSpec('127.0.0.1', { bindTo: { address: '127.0.0.2', family: 'inet' } }));
    probes.push(probe);
    expect(probe.describe()).toBe('ICMP echo to 127.0.0.1 from 127.0.0.2');
    expect(probe.key).not.toBe(make('127.0.0.1').key);
    expect(await probe.run(performance.now() + 1000)).toMatchObject({ ok: true });
  });

  it('fails without sending when the deadline has passed, and after close', async () => {
    const probe = make('127.0.0.1');
    expect((await probe.run(performance.now() - 1)).reason).toContain('deadline passed');
    probe.close?.();
    expect((await probe.run(performance.now() + 1000)).reason).toContain('probe is closed');
  });

  it('shares a key between identical probes only', () => {
    expect(make('127.0.0.1').key).toBe(make('127.0.0.1').key);
    expect(make('127.0.0.1').key).not.toBe(make('127.0.0.2').key);
  });
});

// A namespace of our own behind a veth pair: one address that ignores echoes, and a route that
// the namespace answers with ICMP host unreachable. Removing the namespace removes all of it.
const tag = process.pid % 250;
const ns = `ipvsd-ping-${process.pid}`;
const hostSide = `ipvp${process.pid}`.slice(0, 15);
const hostAddr = `198.18.${tag}.1`;
const nsAddr = `198.18.${tag}.2`;
const unreachableNet = `198.19.${tag}.0/24`;
const unreachableAddr = `198.19.${tag}.7`;
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
let netnsReady = false;
try {
  ip('netns', 'add', ns);
  netnsReady = true;
} catch {
  netnsReady = false;
}

describe.skipIf(!netnsReady)('PING_CHECK against a namespace that drops or refuses echoes (needs ip netns)', () => {
  const probes: Probe[] = [];
  beforeAll(() => {
    ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('addr', 'add', `${hostAddr}/30`, 'dev', hostSide);
    ip('link', 'set', hostSide, 'up');
    ip('-n', ns, 'addr', 'add', `${nsAddr}/30`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'route', 'add', 'unreachable', unreachableNet);
    ip('route', 'add', unreachableNet, 'via', nsAddr);
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1', 'net.ipv4.ip_forward=1']);
  });
  afterAll(() => {
    for (const p of probes.splice(0)) p.close?.();
    try {
      ip('route', 'del', unreachableNet);
    } catch {
      // Gone with the link already.
    }
    ip('netns', 'del', ns);
  });
  const make = (address: string, timeout: number): Probe => {
    const probe = pingProbe(pingSpec(address, { connectTimeoutMs: timeout }));
    probes.push(probe);
    return probe;
  };

  it('fails, not hard, when no reply comes within connect_timeout', async () => {
    const result = await make(nsAddr, 200).run(performance.now() + 2000);
    expect(result).toMatchObject({ ok: false, reason: `ICMP echo to ${nsAddr}: no echo reply within 200 ms` });
    expect(result.hard).toBeUndefined();
    expect(result.durationMs).toBeGreaterThanOrEqual(190);
  });

  it('fails hard on ICMP host unreachable', async () => {
    const result = await make(unreachableAddr, 1000).run(performance.now() + 2000);
    expect(result).toMatchObject({ ok: false, hard: true, reason: `ICMP echo to ${unreachableAddr}: ICMP host unreachable` });
  });
});
