// The HTTP_GET / SSL_GET keywords beyond keepalived (http_method, http_header, expect_header,
// verify_certificate, ca_file): read into the model, warned about as ipvsd-only, rejected when
// malformed, each with its file:line:col.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import type { HttpCheck } from '../../src/config/model.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-http-keywords-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=ca.example.test',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'ca.pem'),
  ], { stdio: 'ignore' });
  writeFileSync(join(dir, 'not-a-cert.pem'), 'hello\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The checker block starts on line 7; its body lines start on line 8. */
function load(body: string, type = 'HTTP_GET') {
  const text = `virtual_server 10.0.0.1 443 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.0.11 443 {
        ${type} {
${body}
            url {
                path /health
            }
        }
    }
}
`;
  return loadConfigText(text, join(dir, 'keepalived.conf'), { configId: 'test', env: {} });
}

const located = (r: ReturnType<typeof load>) => r.diagnostics.map((d) => `${d.pos.line}:${d.pos.column}: ${d.severity}: ${d.message}`);
const errors = (r: ReturnType<typeof load>) => located(r).filter((d) => d.includes(': error: '));
const checkerOf = (r: ReturnType<typeof load>) => r.config!.virtualServers[0]!.realServers[0]!.checkers[0] as HttpCheck;
const extension = (line: number, column: number, name: string) =>
  `${line}:${column}: warning: \`${name}\` is an ipvsd extension: \`keepalived -t\` rejects it and keepalived would ignore it`;

describe('HTTP_GET / SSL_GET extension keywords', () => {
  it('reads method, headers and expected headers into the model, warning once per line', () => {
    const result = load([
      '            http_method post',
      '            http_header "X-Probe: ipvsd"',
      '            http_header X-Token:  a b',
      '            expect_header "X-Backend: blue-7"',
      '            expect_header X-Ready',
    ].join('\n'));
    expect(located(result)).toEqual([
      extension(8, 13, 'http_method'),
      extension(9, 13, 'http_header'),
      extension(10, 13, 'http_header'),
      extension(11, 13, 'expect_header'),
      extension(12, 13, 'expect_header'),
    ]);
    expect(checkerOf(result)).toMatchObject({
      method: 'POST',
      requestHeaders: [{ name: 'X-Probe', value: 'ipvsd' }, { name: 'X-Token', value: 'a b' }],
      expectHeaders: [{ name: 'X-Backend', value: 'blue-7' }, { name: 'X-Ready', value: undefined }],
    });
  });

  it('reads verify_certificate and ca_file (relative to the configuration file) in SSL_GET', () => {
    const result = load('            verify_certificate\n            ca_file ca.pem', 'SSL_GET');
    expect(located(result)).toEqual([extension(8, 13, 'verify_certificate'), extension(9, 13, 'ca_file')]);
    expect(checkerOf(result)).toMatchObject({ verifyCertificate: true, caFile: join(dir, 'ca.pem') });
    expect(checkerOf(load(`            verify_certificate yes\n            ca_file ${join(dir, 'ca.pem')}`, 'SSL_GET')).caFile).toBe(join(dir, 'ca.pem'));
  });

  it('leaves a keepalived-only checker without them and without warnings', () => {
    const result = load('            virtualhost www.example.test');
    expect(result.diagnostics).toEqual([]);
    const checker = checkerOf(result);
    for (const key of ['method', 'requestHeaders', 'expectHeaders', 'verifyCertificate', 'caFile']) expect(checker).not.toHaveProperty(key);
  });

  it.each([
    ['http_method "GE T"', '8:25: error: `http_method` takes a method such as GET, HEAD or POST, not `GE T`'],
    ['http_method CONNECT', '8:25: error: `http_method CONNECT` opens a tunnel and cannot check a url'],
    ['http_method', '8:13: error: `http_method` needs 1 argument'],
    ['http_header X-Probe', '8:25: error: `http_header` takes `"Name: value"`, not `X-Probe`'],
    ['http_header "Bad Name: x"', '8:25: error: `http_header` needs a header name (letters, digits and !#$%&\'*+.^_`|~-) before the colon, not `Bad Name`'],
    ['http_header ": x"', '8:25: error: `http_header` needs a header name (letters, digits and !#$%&\'*+.^_`|~-) before the colon, not ``'],
    ['http_header "Host: www.example.test"', '8:25: error: `http_header` cannot set Host: set it with `virtualhost`'],
    ['http_header "Content-Length: 3"', '8:25: error: `http_header` cannot set Content-Length: a check sends no body'],
    ['http_header', '8:13: error: `http_header` needs at least 1 argument'],
    ['expect_header "X: Y\u000bZ"', '8:27: error: `expect_header`: the value of X holds a control character'],
    ['expect_header', '8:13: error: `expect_header` needs at least 1 argument'],
  ])('rejects `%s`', (line, message) => {
    const result = load(`            ${line}`);
    expect(result.config).toBeUndefined();
    expect(errors(result)).toEqual([message]);
  });

  it.each([
    ['verify_certificate maybe', '8:32: error: `verify_certificate` takes on/off, true/false or yes/no, not `maybe`'],
    ['verify_certificate\n            ca_file missing.pem', `9:21: error: cannot read \`ca_file\` ${join('DIR', 'missing.pem')}: ENOENT`],
    ['verify_certificate\n            ca_file not-a-cert.pem', `9:21: error: \`ca_file\` ${join('DIR', 'not-a-cert.pem')} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`],
    ['verify_certificate\n            ca_file /dev/zero', '9:21: error: `ca_file` /dev/zero is not a regular file of at most 4 MiB'],
    ['ca_file', '8:13: error: `ca_file` needs 1 argument'],
  ])('rejects `%s` in SSL_GET', (lines, message) => {
    const result = load(`            ${lines}`, 'SSL_GET');
    expect(result.config).toBeUndefined();
    expect(errors(result).map((e) => e.replace(dir, 'DIR'))).toEqual([message]);
  });

  it('ignores the TLS keywords in HTTP_GET and ca_file without verify_certificate, saying so', () => {
    const plain = load('            verify_certificate\n            ca_file ca.pem');
    expect(located(plain)).toEqual([
      extension(8, 13, 'verify_certificate'),
      '8:13: warning: `verify_certificate` applies to SSL_GET only; ignored in HTTP_GET',
      extension(9, 13, 'ca_file'),
      '9:13: warning: `ca_file` applies to SSL_GET only; ignored in HTTP_GET',
    ]);
    expect(checkerOf(plain)).not.toHaveProperty('verifyCertificate');
    expect(checkerOf(plain)).not.toHaveProperty('caFile');
    const unused = load('            ca_file ca.pem', 'SSL_GET');
    expect(located(unused)).toEqual([extension(8, 13, 'ca_file'), '8:13: warning: `ca_file` is used only with `verify_certificate`; ignored']);
    expect(checkerOf(unused)).not.toHaveProperty('caFile');
  });

  it('refuses HEAD when a url checks the body', () => {
    const text = load('            http_method HEAD');
    expect(errors(text)).toEqual([]);
    expect(checkerOf(text).method).toBe('HEAD');
    const withDigest = load('            http_method head\n            url {\n                path /x\n                digest 0123456789abcdef0123456789abcdef\n            }');
    expect(errors(withDigest)).toEqual(['8:13: error: a HEAD answer has no body, so the `digest` or `regex` of url /x cannot match']);
  });
});
