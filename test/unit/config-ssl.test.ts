// keepalived's top-level SSL block: read into every SSL_GET checker, its files resolved against the
// file naming them and checked at load, each problem with its file:line:col.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, loadConfigText } from '../../src/config/load.js';
import type { HttpCheck } from '../../src/config/model.js';
import { CLIENT_KEY_PASSWORD, makeClientPki, pkiPath } from '../fixtures/checkers/client-pki.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-config-ssl-'));
  makeClientPki(dir);
  writeFileSync(join(dir, 'not-pem.txt'), 'hello\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PASSWORD = `"${CLIENT_KEY_PASSWORD}"`;

/** The SSL block's lines start on line 2; the virtual server follows it with an SSL_GET and an HTTP_GET. */
function load(sslBody: string, checker = 'SSL_GET') {
  const text = `SSL {
${sslBody}
}
virtual_server 10.0.0.1 443 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.0.11 443 {
        ${checker} {
            url { path /health }
        }
        HTTP_GET {
            url { path /health }
        }
    }
}
`;
  return loadConfigText(text, join(dir, 'keepalived.conf'), { configId: 'test', env: {} });
}

const located = (r: ReturnType<typeof load>) => r.diagnostics.map((d) => `${d.pos.line}:${d.pos.column}: ${d.severity}: ${d.message}`);
const checkers = (r: ReturnType<typeof load>) => r.config!.virtualServers[0]!.realServers[0]!.checkers as HttpCheck[];

const fullBlock = [`    password ${PASSWORD}`, '    ca ca.pem', '    certificate client.pem', '    key client.key'].join('\n');

describe('the SSL block', () => {
  it('gives every SSL_GET checker its files (absolute) and password, and HTTP_GET nothing', () => {
    const result = load(fullBlock);
    expect(located(result)).toEqual([]);
    const [ssl, plain] = checkers(result);
    expect(ssl!.sslClient).toEqual({
      pos: { file: join(dir, 'keepalived.conf'), line: 1, column: 1 },
      caFile: pkiPath(dir, 'ca'),
      certificateFile: pkiPath(dir, 'client'),
      keyFile: pkiPath(dir, 'clientKey'),
      password: CLIENT_KEY_PASSWORD,
    });
    expect(plain!.type).toBe('HTTP_GET');
    expect(plain!.sslClient).toBeUndefined();
  });

  it('applies to SSL_GET checkers written before it too, and accepts an empty block or a ca alone', () => {
    const text = `virtual_server 10.0.0.1 443 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.0.11 443 {
        SSL_GET { url { path / } }
    }
}
SSL {
    ca ${pkiPath(dir, 'ca')}
}
`;
    const after = loadConfigText(text, join(dir, 'keepalived.conf'), { configId: 'test', env: {} });
    expect(after.diagnostics).toEqual([]);
    expect((after.config!.virtualServers[0]!.realServers[0]!.checkers[0] as HttpCheck).sslClient).toMatchObject({
      caFile: pkiPath(dir, 'ca'),
      certificateFile: undefined,
      keyFile: undefined,
      password: undefined,
    });
    const empty = load('');
    expect(located(empty)).toEqual([]);
    expect(checkers(empty)[0]!.sslClient).toMatchObject({ caFile: undefined, certificateFile: undefined });
  });

  it('resolves relative paths against the included file that names them', () => {
    const sub = join(dir, 'conf.d');
    mkdirSync(sub, { recursive: true });
    copyFileSync(pkiPath(dir, 'ca'), join(sub, 'bundle.pem'));
    writeFileSync(join(sub, 'ssl.conf'), 'SSL {\n    ca bundle.pem\n}\n');
    const main = join(dir, 'main.conf');
    writeFileSync(main, `include conf.d/ssl.conf
virtual_server 10.0.0.1 443 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.0.11 443 {
        SSL_GET { url { path / } }
    }
}
`);
    const result = loadConfig(main, { configId: 'test', env: {} });
    expect(result.diagnostics).toEqual([]);
    expect((result.config!.virtualServers[0]!.realServers[0]!.checkers[0] as HttpCheck).sslClient?.caFile).toBe(join(sub, 'bundle.pem'));
  });

  it('reads an unencrypted key without a password, and warns about a password it does not need', () => {
    const plain = load('    certificate stranger.pem\n    key stranger.key');
    expect(located(plain)).toEqual([]);
    expect(checkers(plain)[0]!.sslClient).toMatchObject({ keyFile: pkiPath(dir, 'strangerKey'), password: undefined });
    const needless = load('    password x\n    certificate stranger.pem\n    key stranger.key');
    expect(located(needless)).toEqual([`2:5: warning: the SSL \`key\` ${pkiPath(dir, 'strangerKey')} is not encrypted; \`password\` is not needed`]);
  });

  it('warns when no SSL_GET checker uses it', () => {
    expect(located(load('    ca ca.pem', 'HTTP_GET'))).toEqual(['1:1: warning: the SSL block applies to SSL_GET checkers, and there is none']);
  });
});

describe('SSL block diagnostics', () => {
  const errorsOf = (body: string) => located(load(body)).filter((d) => d.includes(': error: '));

  it('reports a missing file, a directory, and a file that is not PEM, at the path', () => {
    expect(errorsOf('    ca missing.pem')).toEqual([`2:8: error: cannot read SSL \`ca\` ${join(dir, 'missing.pem')}: ENOENT`]);
    expect(errorsOf('    certificate .\n    key client.key\n    password x')).toEqual([
      `2:17: error: SSL \`certificate\` ${dir} is not a regular file of at most 4 MiB`,
    ]);
    expect(errorsOf('    ca not-pem.txt')).toEqual([
      `2:8: error: SSL \`ca\` ${join(dir, 'not-pem.txt')} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    ]);
    expect(errorsOf('    certificate client.pem\n    key client.pem')).toEqual([
      `3:9: error: SSL \`key\` ${pkiPath(dir, 'client')} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`,
    ]);
  });

  it('wants the password of an encrypted key, and reports a wrong one at the password', () => {
    expect(errorsOf('    certificate client.pem\n    key client.key')).toEqual([
      `3:9: error: SSL \`key\` ${pkiPath(dir, 'clientKey')} is encrypted; give its \`password\` in the SSL block`,
    ]);
    const [wrong, ...rest] = errorsOf('    password wrong\n    certificate client.pem\n    key client.key');
    expect(rest).toEqual([]);
    expect(wrong).toMatch(new RegExp(`^2:14: error: SSL \`password\` does not decrypt the key ${pkiPath(dir, 'clientKey')}: .*bad decrypt`));
  });

  it('refuses a key that is not the certificate\'s, and one of the pair without the other', () => {
    expect(errorsOf(`    password ${PASSWORD}\n    certificate stranger.pem\n    key client.key`)).toEqual([
      `4:9: error: SSL \`key\` ${pkiPath(dir, 'clientKey')} is not the key of the certificate ${pkiPath(dir, 'stranger')} (CN=stranger)`,
    ]);
    expect(errorsOf('    certificate client.pem')).toEqual(['2:5: error: SSL `certificate` needs its `key`']);
    expect(errorsOf('    key stranger.key')).toEqual(['2:5: error: SSL `key` needs its `certificate`']);
    expect(located(load('    password x'))).toEqual(['2:5: warning: SSL `password` decrypts the `key`, and there is none; ignored']);
  });

  it('reports unknown keywords, wrong argument counts, arguments to SSL, and a second SSL block', () => {
    expect(errorsOf('    pasword x')).toEqual(['2:5: error: unknown keyword `pasword` in SSL; did you mean `password`?']);
    expect(errorsOf('    ca')).toEqual(['2:5: error: `ca` needs 1 argument']);
    expect(errorsOf('    ca ca.pem other.pem')).toEqual(['2:15: error: `ca` takes at most 1 argument']);
    const text = 'SSL extra {\n}\nSSL {\n}\n';
    const result = loadConfigText(text, join(dir, 'keepalived.conf'), { configId: 'test', env: {} });
    expect(result.config).toBeUndefined();
    expect(result.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.pos.line}:${d.pos.column}: ${d.message}`)).toEqual([
      '1:5: `SSL` takes no arguments',
      `3:1: SSL is already defined at ${join(dir, 'keepalived.conf')}:1`,
    ]);
  });

  it('fails the load on any of them', () => {
    expect(load('    ca missing.pem').config).toBeUndefined();
    expect(load(fullBlock).config).toBeDefined();
  });
});
