// SSL_GET with keepalived's top-level SSL block, from the configuration to the handshake: a real
// server on loopback that demands a client certificate from its CA.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeSetupError, createProbe } from '../../checkers/index.js';
import { httpProbe } from '../../checkers/http.js';
import { loadConfigText } from '../../src/config/load.js';
import { CLIENT_KEY_PASSWORD, makeClientPki, pkiPath } from '../fixtures/checkers/client-pki.js';
import { closeServer, listen, track } from '../fixtures/checkers/servers.js';
import { httpSpec, url } from '../fixtures/checkers/specs.js';

let dir: string;
let server: https.Server;
let sockets: Set<import('node:net').Socket>;
let port: number;
/** The common name of each client certificate the server accepted. */
const clients: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-ssl-client-'));
  makeClientPki(dir);
  server = https.createServer(
      {
        key: readFileSync(pkiPath(dir, 'serverKey')),
        cert: readFileSync(pkiPath(dir, 'server')),
        ca: readFileSync(pkiPath(dir, 'ca')),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req: IncomingMessage, res: ServerResponse) => {
        clients.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
        res.end('ok\n');
      },
  );
  sockets = track(server);
  port = await listen(server, '127.0.0.1');
});

afterAll(async () => {
  await closeServer(server, sockets);
  rmSync(dir, { recursive: true, force: true });
});

const soon = (): number => performance.now() + 3000;

/** The probe of the one SSL_GET checker of a configuration in the PKI directory, `top` written before it. */
function probeFor(top: string, checkerExtra = '') {
  const text = `${top}
virtual_server 127.0.0.1 ${port} {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 ${port} {
        SSL_GET {
            ${checkerExtra}
            url { path /health }
        }
    }
}
`;
  const { config, diagnostics } = loadConfigText(text, join(dir, 'keepalived.conf'), { configId: 'test', env: {} });
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const rs = config!.virtualServers[0]!.realServers[0]!;
  return createProbe(rs.checkers[0]!, rs);
}

const sslBlock = (cert = 'client.pem', key = 'client.key', password = `"${CLIENT_KEY_PASSWORD}"`, ca = 'ca.pem') => `SSL {
    password ${password}
    ca ${ca}
    certificate ${cert}
    key ${key}
}`;

describe('SSL_GET against a server that requires a client certificate', () => {
  it('fails without the SSL block: no certificate is presented', async () => {
    const result = await probeFor('').run(soon());
    expect(result.ok).toBe(false);
    // The server's "certificate required" alert, which undici alone reports as "other side closed".
    expect(result.reason).toMatch(/^HTTP GET https:\/\/127\.0\.0\.1:\d+\/health: TLS: .*certificate required/);
  });

  it('passes with the SSL block, presenting the client certificate (key decrypted with the password)', async () => {
    const before = clients.length;
    const result = await probeFor(sslBlock()).run(soon());
    expect(result).toMatchObject({ ok: true });
    expect(clients.slice(before)).toEqual(['director']);
  });

  it('completes the client chain from the SSL block\'s ca, as keepalived\'s context does', async () => {
    const chained = (ca: string) => `SSL {\n${ca}\n    certificate chained.pem\n    key chained.key\n}`;
    const before = clients.length;
    // The server trusts the root only: the leaf alone does not reach it.
    expect((await probeFor(chained('')).run(soon())).ok).toBe(false);
    expect(await probeFor(chained('    ca intermediate.pem')).run(soon())).toMatchObject({ ok: true });
    expect(clients.slice(before)).toEqual(['chained director']);
  });

  it('fails with a certificate the server does not trust', async () => {
    const before = clients.length;
    // Node's server checks the chain after the handshake and just closes: no TLS alert to report.
    const result = await probeFor(sslBlock('stranger.pem', 'stranger.key', 'unused')).run(soon());
    expect(result.ok).toBe(false);
    expect(result.reason).toContain('connection closed before a complete response');
    expect(clients.length).toBe(before);
  });

  it('keeps not verifying the server, and verifies it with verify_certificate', async () => {
    // The server's certificate is self-signed and not from the SSL block's ca: only verification rejects it.
    const verified = await probeFor(sslBlock(), 'verify_certificate').run(soon());
    expect(verified.ok).toBe(false);
    expect(verified.reason).toMatch(/TLS: .*self[- ]signed/i);
    const trusted = await probeFor(sslBlock(), 'virtualhost real-server.test\n enable_sni\n verify_certificate\n ca_file server.pem').run(soon());
    expect(trusted).toMatchObject({ ok: true });
    // Without ca_file, the SSL block's ca is the trust store, as in keepalived's one context.
    const blockCa = await probeFor(sslBlock(undefined, undefined, undefined, 'server.pem'), 'virtualhost real-server.test\n enable_sni\n verify_certificate').run(soon());
    expect(blockCa).toMatchObject({ ok: true });
  });

  it('reports a key file that disappeared after the load as a setup error', () => {
    copyFileSync(pkiPath(dir, 'clientKey'), join(dir, 'gone.key'));
    try {
      const text = `${sslBlock('client.pem', 'gone.key')}
virtual_server 127.0.0.1 ${port} {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 ${port} {
        SSL_GET { url { path / } }
    }
}
`;
      const { config } = loadConfigText(text, join(dir, 'keepalived.conf'), { configId: 'test', env: {} });
      rmSync(join(dir, 'gone.key'));
      const rs = config!.virtualServers[0]!.realServers[0]!;
      expect(() => createProbe(rs.checkers[0]!, rs)).toThrow(ProbeSetupError);
      expect(() => createProbe(rs.checkers[0]!, rs)).toThrow(/SSL_GET: cannot read SSL key .*gone\.key/);
    } finally {
      rmSync(join(dir, 'gone.key'), { force: true });
    }
  });

  it('gives a probe with a client certificate its own key, without the password in it', () => {
    const plain = probeFor('');
    const withCert = probeFor(sslBlock());
    expect(withCert.key).not.toBe(plain.key);
    expect(withCert.key).toBe(probeFor(sslBlock()).key);
    expect(withCert.key).not.toContain(CLIENT_KEY_PASSWORD);
    expect(withCert.key).not.toContain('PRIVATE KEY');
  });
});

describe('httpProbe clientCertificate', () => {
  const spec = () => httpSpec('127.0.0.1', port, [url('/health')], { type: 'SSL_GET' });
  const pem = (file: Parameters<typeof pkiPath>[1]): string => readFileSync(pkiPath(dir, file), 'utf8');

  it('fails every run, saying why, when the key cannot be decrypted', async () => {
    const probe = httpProbe(spec(), { clientCertificate: { cert: pem('client'), key: pem('clientKey'), passphrase: 'wrong' } });
    const result = await probe.run(soon());
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/TLS: cannot use the client certificate or CA: .*decrypt/i);
  });

  it('is left out of HTTP_GET', async () => {
    const plain = httpSpec('127.0.0.1', port, [url('/health')]);
    const probe = httpProbe(plain, { clientCertificate: { cert: pem('client'), key: pem('clientKey'), passphrase: 'wrong' } });
    // An HTTP request to a TLS port: the server answers with garbage or closes, but no TLS setup error.
    expect((await probe.run(soon())).reason).not.toContain('cannot use the client certificate');
  });
});
