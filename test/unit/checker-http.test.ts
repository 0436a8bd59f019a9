import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeSetupError, createProbe } from '../../checkers/index.js';
import { httpProbe } from '../../checkers/http.js';
import { loadConfigText } from '../../src/config/load.js';
import { closeServer, closedPort, listen, track } from '../fixtures/checkers/servers.js';
import { httpSpec, url } from '../fixtures/checkers/specs.js';

const BODY = 'the quick brown fox jumps over the lazy dog\n';
const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  servername?: string | false | null;
}

const seen: Seen[] = [];

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const servername = (req.socket as TLSSocket).servername;
  seen.push({ method: req.method!, url: req.url!, headers: req.headers, ...(servername !== undefined && { servername }) });
  switch (req.url) {
    case '/ok':
      res.setHeader('X-Backend', 'blue-7');
      res.end(BODY);
      return;
    case '/503':
      res.statusCode = 503;
      res.end('down');
      return;
    case '/chunked':
      res.write('the quick brown fox ');
      setTimeout(() => res.end('jumps over the lazy dog\n'), 5);
      return;
    case '/hang-body':
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      return;
    case '/only-post':
      res.statusCode = req.method === 'POST' ? 200 : 405;
      res.end();
      return;
    default:
      res.statusCode = 404;
      res.end('not found');
  }
}

const last = (): Seen => seen[seen.length - 1]!;

let dir: string;
let server: http.Server;
let port: number;
let server6: http.Server;
let port6: number;
let tlsServer: https.Server;
let tlsPort: number;
let cert: string;
let silent: net.Server;
let silentSockets: Set<net.Socket>;
let silentPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-http-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=www.example.test',
    '-addext', 'subjectAltName=DNS:www.example.test',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  server = http.createServer(handler);
  port = await listen(server);
  server6 = http.createServer(handler);
  port6 = await listen(server6, '::1');
  tlsServer = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, handler);
  tlsPort = await listen(tlsServer);
  // Accepts connections and never answers: the read step must time out.
  silent = net.createServer(() => {});
  silentSockets = track(silent);
  silentPort = await listen(silent);
});

afterAll(async () => {
  await Promise.all([closeServer(server), closeServer(server6), closeServer(tlsServer), closeServer(silent, silentSockets)]);
  rmSync(dir, { recursive: true, force: true });
});

const soon = (ms = 2000): number => performance.now() + ms;

describe('HTTP_GET', () => {
  it('passes on 200 and sends the keepalived request headers', async () => {
    const probe = httpProbe(httpSpec('127.0.0.1', port, [url('/ok')]));
    expect(probe.describe()).toBe(`HTTP GET http://127.0.0.1:${port}/ok`);
    const result = await probe.run(soon());
    expect(result).toMatchObject({ ok: true });
    expect(result.reason).toBe(`HTTP GET http://127.0.0.1:${port}/ok: status 200`);
    expect(result.durationMs).toBeGreaterThan(0);
    expect(last().headers['host']).toBe(`127.0.0.1:${port}`);
    expect(last().headers['user-agent']).toBe('KeepAliveClient');
    expect(last().headers['connection']).toBe('close');
    expect(last().method).toBe('GET');
  });

  it('brackets an IPv6 address in the Host header', async () => {
    const result = await httpProbe(httpSpec('::1', port6, [url('/ok')])).run(soon());
    expect(result.ok).toBe(true);
    expect(last().headers['host']).toBe(`[::1]:${port6}`);
  });

  it('takes Host from the url, else the checker (which already holds the virtual server\'s)', async () => {
    await httpProbe(httpSpec('127.0.0.1', port, [url('/ok')], { virtualhost: 'checker.example' })).run(soon());
    expect(last().headers['host']).toBe('checker.example');
    const probe = httpProbe(httpSpec('127.0.0.1', port, [url('/ok', { virtualhost: 'url.example' })], { virtualhost: 'checker.example' }));
    expect(probe.describe()).toContain('(Host: url.example)');
    await probe.run(soon());
    expect(last().headers['host']).toBe('url.example');
  });

  it('fails a status outside the set and accepts one inside a configured range', async () => {
    const bad = await httpProbe(httpSpec('127.0.0.1', port, [url('/503')])).run(soon());
    expect(bad).toMatchObject({ ok: false });
    expect(bad.hard).toBeUndefined();
    expect(bad.reason).toContain('status 503, expected 200-299');
    const ranged = await httpProbe(httpSpec('127.0.0.1', port, [url('/503', { statusCodes: [{ from: 200, to: 200 }, { from: 500, to: 503 }] })])).run(soon());
    expect(ranged.ok).toBe(true);
    const exact = await httpProbe(httpSpec('127.0.0.1', port, [url('/ok', { statusCodes: [{ from: 204, to: 204 }] })])).run(soon());
    expect(exact.reason).toContain('status 200, expected 204');
  });

  it('checks the MD5 digest of the body, also when it arrives chunked', async () => {
    expect((await httpProbe(httpSpec('127.0.0.1', port, [url('/ok', { digest: md5(BODY) })])).run(soon())).ok).toBe(true);
    expect((await httpProbe(httpSpec('127.0.0.1', port, [url('/chunked', { digest: md5(BODY) })])).run(soon())).ok).toBe(true);
    const wrong = await httpProbe(httpSpec('127.0.0.1', port, [url('/ok', { digest: md5('other') })])).run(soon());
    expect(wrong.ok).toBe(false);
    expect(wrong.reason).toContain(`body MD5 ${md5(BODY)}, expected ${md5('other')}`);
  });

  it('applies regex, regex_no_match and regex options', async () => {
    const run = (u: Parameters<typeof url>[1]) => httpProbe(httpSpec('127.0.0.1', port, [url('/ok', u)])).run(soon());
    expect((await run({ regex: 'brown\\s+fox' })).ok).toBe(true);
    expect((await run({ regex: 'BROWN' })).reason).toContain('does not match /BROWN/');
    expect((await run({ regex: 'BROWN', regexOptions: ['caseless'] })).ok).toBe(true);
    expect((await run({ regex: '(?i)BROWN' })).ok).toBe(true);
    expect((await run({ regex: 'error', regexNoMatch: true })).ok).toBe(true);
    const hit = await run({ regex: 'fox', regexNoMatch: true });
    expect(hit.ok).toBe(false);
    expect(hit.reason).toContain('matches /fox/ (regex_no_match)');
    expect((await run({ regex: 'quick', regexMinOffset: 10 })).ok).toBe(false);
    expect((await run({ regex: 'lazy', regexMaxOffset: 5 })).ok).toBe(false);
  });

  it('reports a pattern JavaScript cannot compile instead of throwing', async () => {
    const result = await httpProbe(httpSpec('127.0.0.1', port, [url('/ok', { regex: 'a++(' })])).run(soon());
    expect(result.ok).toBe(false);
    expect(result.reason).toContain('does not compile');
  });

  it('requires every url, naming the one that failed', async () => {
    const result = await httpProbe(httpSpec('127.0.0.1', port, [url('/ok'), url('/503')])).run(soon());
    expect(result.ok).toBe(false);
    expect(result.reason).toContain('/503: status 503');
    expect((await httpProbe(httpSpec('127.0.0.1', port, [url('/ok'), url('/chunked')])).run(soon())).reason).toContain('all 2 urls passed');
  });

  it('marks a refused connection hard', async () => {
    const result = await httpProbe(httpSpec('127.0.0.1', await closedPort(), [url('/ok')])).run(soon());
    expect(result).toMatchObject({ ok: false, hard: true });
    expect(result.reason).toContain('connection refused');
  });

  it('times out a server that accepts and never answers, per step, without hard', async () => {
    const spec = httpSpec('127.0.0.1', silentPort, [url('/ok')], { connectTimeoutMs: 300 });
    const result = await httpProbe(spec).run(soon(5000));
    expect(result.ok).toBe(false);
    expect(result.hard).toBeUndefined();
    expect(result.reason).toContain('no response headers within 300 ms');
    expect(result.durationMs).toBeGreaterThanOrEqual(250);
    expect(result.durationMs).toBeLessThan(2500);
  });

  it('times out a body that stalls', async () => {
    const result = await httpProbe(httpSpec('127.0.0.1', port, [url('/hang-body', { regex: 'x' })], { connectTimeoutMs: 300 })).run(soon(5000));
    expect(result.ok).toBe(false);
    expect(result.reason).toContain('no body data within 300 ms');
  });

  it('stops at the overall deadline even when connect_timeout is longer', async () => {
    const spec = httpSpec('127.0.0.1', silentPort, [url('/ok')], { connectTimeoutMs: 5000 });
    const result = await httpProbe(spec).run(soon(200));
    expect(result.ok).toBe(false);
    expect(result.reason).toContain('deadline reached');
    expect(result.durationMs).toBeLessThan(2500);
  });

  it('sends a custom method and headers and checks an expected header', async () => {
    const probe = httpProbe(httpSpec('127.0.0.1', port, [url('/only-post')]), { method: 'post', headers: { 'X-Probe': 'ipvsd', 'User-Agent': 'other' } });
    expect(probe.describe()).toContain('HTTP POST');
    expect((await probe.run(soon())).ok).toBe(true);
    expect(last().method).toBe('POST');
    expect(last().headers['x-probe']).toBe('ipvsd');
    expect(last().headers['user-agent']).toBe('KeepAliveClient');
    const spec = httpSpec('127.0.0.1', port, [url('/ok')]);
    expect((await httpProbe(spec, { expectHeaders: [{ name: 'X-Backend', value: 'blue-7' }] }).run(soon())).ok).toBe(true);
    expect((await httpProbe(spec, { expectHeaders: [{ name: 'X-Backend', pattern: /^blue-\d+$/ }] }).run(soon())).ok).toBe(true);
    const wrong = await httpProbe(spec, { expectHeaders: [{ name: 'X-Backend', value: 'green' }] }).run(soon());
    expect(wrong.reason).toContain('X-Backend is "blue-7", expected "green"');
    expect((await httpProbe(spec, { expectHeaders: [{ name: 'X-Backend' }, { name: 'X-Missing' }] }).run(soon())).reason).toContain('no X-Missing header');
  });

  it('gives identical probes one key and different ones different keys', () => {
    const a = httpProbe(httpSpec('127.0.0.1', port, [url('/ok')]));
    const b = httpProbe(httpSpec('127.0.0.1', port, [url('/ok')], { connectTimeoutMs: 9000, delayLoopMs: 7000 }));
    const c = httpProbe(httpSpec('127.0.0.1', port, [url('/ok', { digest: md5(BODY) })]));
    const d = httpProbe(httpSpec('127.0.0.1', port, [url('/ok')]), { headers: { 'x-a': '1' } });
    expect(a.key).toBe(b.key);
    expect(new Set([a.key, c.key, d.key]).size).toBe(3);
  });
});

describe('SSL_GET', () => {
  const ssl = (extra: Parameters<typeof httpSpec>[3] = {}) => httpSpec('127.0.0.1', tlsPort, [url('/ok')], { type: 'SSL_GET', ...extra });

  it('accepts a self-signed certificate by default, as keepalived', async () => {
    const probe = httpProbe(ssl());
    expect(probe.describe()).toBe(`HTTP GET https://127.0.0.1:${tlsPort}/ok`);
    expect(await probe.run(soon())).toMatchObject({ ok: true });
    expect(last().servername).toBe(false);
  });

  it('sends SNI only with enable_sni, naming the virtual host', async () => {
    await httpProbe(ssl({ virtualhost: 'www.example.test' })).run(soon());
    expect(last().servername).toBe(false);
    expect(last().headers['host']).toBe('www.example.test');
    await httpProbe(ssl({ virtualhost: 'www.example.test', enableSni: true })).run(soon());
    expect(last().servername).toBe('www.example.test');
  });

  it('verifies the certificate when asked', async () => {
    const untrusted = await httpProbe(ssl({ virtualhost: 'www.example.test', enableSni: true }), { verifyCertificate: true }).run(soon());
    expect(untrusted.ok).toBe(false);
    expect(untrusted.reason).toMatch(/TLS: .*self[- ]signed/i);
    const trusted = await httpProbe(ssl({ virtualhost: 'www.example.test', enableSni: true }), { verifyCertificate: true, ca: cert }).run(soon());
    expect(trusted.ok).toBe(true);
    const wrongName = await httpProbe(ssl(), { verifyCertificate: true, ca: cert }).run(soon());
    expect(wrongName.ok).toBe(false);
    expect(wrongName.reason).toContain('TLS');
  });
});

describe('ipvsd keywords, from the configuration to the request', () => {
  /** The probe of the one checker of a configuration written in the test directory (ca_file paths are relative to it). */
  function probeFor(checker: string, serverPort: number) {
    const text = `virtual_server 127.0.0.1 ${serverPort} {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 ${serverPort} {
        ${checker}
    }
}
`;
    const { config, diagnostics } = loadConfigText(text, join(dir, 'keepalived.conf'), { configId: 'test', env: {} });
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const rs = config!.virtualServers[0]!.realServers[0]!;
    return createProbe(rs.checkers[0]!, rs);
  }

  it('sends http_method and every http_header, and passes while expect_header holds', async () => {
    const probe = probeFor(`HTTP_GET {
            http_method post
            http_header "X-Probe: ipvsd"
            http_header X-Probe: second
            expect_header "X-Backend: blue-7"
            url { path /ok }
        }`, port);
    expect(probe.describe()).toContain('HTTP POST');
    expect(await probe.run(soon())).toMatchObject({ ok: true });
    expect(last().method).toBe('POST');
    expect(last().headers['x-probe']).toBe('ipvsd, second');
  });

  it('fails when an expect_header is missing from the answer', async () => {
    const result = await probeFor('HTTP_GET {\n expect_header X-Backend\n expect_header X-Missing\n url { path /ok }\n }', port).run(soon());
    expect(result.ok).toBe(false);
    expect(result.reason).toContain('no X-Missing header');
    expect(last().method).toBe('GET');
  });

  it('with verify_certificate fails a self-signed certificate and passes with its ca_file', async () => {
    const ssl = (extra: string) => `SSL_GET {
            virtualhost www.example.test
            enable_sni
            verify_certificate
            ${extra}
            url { path /ok }
        }`;
    const untrusted = await probeFor(ssl(''), tlsPort).run(soon());
    expect(untrusted.ok).toBe(false);
    expect(untrusted.reason).toMatch(/TLS: .*self[- ]signed/i);
    expect(await probeFor(ssl('ca_file cert.pem'), tlsPort).run(soon())).toMatchObject({ ok: true });
    expect(await probeFor(ssl('verify_certificate off\n ca_file cert.pem'), tlsPort).run(soon())).toMatchObject({ ok: true });
  });

  it('reports a ca_file that disappeared after the load as a setup error', () => {
    copyFileSync(join(dir, 'cert.pem'), join(dir, 'gone.pem'));
    const text = `virtual_server 127.0.0.1 443 {
    protocol TCP
    real_server 127.0.0.1 443 {
        SSL_GET {
            verify_certificate
            ca_file gone.pem
            url { path / }
        }
    }
}
`;
    const { config } = loadConfigText(text, join(dir, 'keepalived.conf'), { configId: 'test', env: {} });
    rmSync(join(dir, 'gone.pem'));
    const rs = config!.virtualServers[0]!.realServers[0]!;
    expect(() => createProbe(rs.checkers[0]!, rs)).toThrow(ProbeSetupError);
    expect(() => createProbe(rs.checkers[0]!, rs)).toThrow(/cannot read ca_file .*gone\.pem/);
  });
});
