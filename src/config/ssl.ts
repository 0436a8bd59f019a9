// The top-level `SSL { password; ca; certificate; key }` block: the client side of every SSL_GET
// handshake. keepalived loads the files into its one SSL context at start and exits when one does
// not load; ipvsd reads and checks them at load, so a bad file fails `ipvsd -t` with its position.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Statement, Token } from './ast.js';
import { KeywordTable } from './keywords.js';
import type { Checker, SslClient, VirtualServer } from './model.js';
import { arity, type ParseContext } from './values.js';

/** Each keyword's last statement; its one argument is the value. */
interface SslDraft {
  ca?: Statement;
  certificate?: Statement;
  key?: Statement;
  password?: Statement;
}

const sslTable = new KeywordTable<SslDraft>('SSL', [
  { name: 'password', handle: (d, st, cx) => arity(st, cx, 1) && (d.password = st) },
  { name: 'ca', handle: (d, st, cx) => arity(st, cx, 1) && (d.ca = st) },
  { name: 'certificate', handle: (d, st, cx) => arity(st, cx, 1) && (d.certificate = st) },
  { name: 'key', handle: (d, st, cx) => arity(st, cx, 1) && (d.key = st) },
]);

/** CA bundles are a few hundred KiB; a bigger "file" is a mistake (or a device) not worth reading. */
const MAX_PEM_BYTES = 4 * 1024 * 1024;

interface PemFile {
  path: string;
  text: string;
}

interface PemMarker {
  name: string;
  pattern: RegExp;
}

const CERTIFICATE: PemMarker = { name: 'certificate', pattern: /-----BEGIN CERTIFICATE-----/ };
// PKCS#8 (plain or ENCRYPTED) and the traditional RSA / EC forms.
const PRIVATE_KEY: PemMarker = { name: 'private key', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/ };

/** The file a token names (relative to the file naming it), read now; undefined after an error at the token. */
function pemFile(tok: Token, what: string, marker: PemMarker, cx: ParseContext): PemFile | undefined {
  const path = resolve(dirname(tok.pos.file), tok.text);
  let text: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile() || stat.size > MAX_PEM_BYTES) {
      cx.error(tok, `SSL \`${what}\` ${path} is not a regular file of at most ${MAX_PEM_BYTES / 1024 / 1024} MiB`);
      return undefined;
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    cx.error(tok, `cannot read SSL \`${what}\` ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  if (!marker.pattern.test(text)) {
    cx.error(tok, `SSL \`${what}\` ${path} holds no PEM ${marker.name} (-----BEGIN ${marker.name.toUpperCase()}-----)`);
    return undefined;
  }
  return { path, text };
}

function certificate(tok: Token, file: PemFile, cx: ParseContext): X509Certificate | undefined {
  try {
    return new X509Certificate(file.text);
  } catch (err) {
    cx.error(tok, `SSL \`certificate\` ${file.path} does not parse: ${(err as Error).message}`);
    return undefined;
  }
}

/** PKCS#8 `ENCRYPTED PRIVATE KEY`, or a traditional PEM key with its `Proc-Type: 4,ENCRYPTED` header. */
const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: *4, *ENCRYPTED/m;

/** The key, decrypted with `password`; warns when the key is not encrypted but a password is given. */
function privateKey(tok: Token, file: PemFile, password: Statement | undefined, cx: ParseContext): KeyObject | undefined {
  if (!ENCRYPTED_KEY.test(file.text)) {
    if (password) cx.warning(password, `the SSL \`key\` ${file.path} is not encrypted; \`password\` is not needed`);
    try {
      return createPrivateKey({ key: file.text, format: 'pem' });
    } catch (err) {
      cx.error(tok, `SSL \`key\` ${file.path} is not a usable private key: ${(err as Error).message}`);
      return undefined;
    }
  }
  if (!password) {
    cx.error(tok, `SSL \`key\` ${file.path} is encrypted; give its \`password\` in the SSL block`);
    return undefined;
  }
  try {
    return createPrivateKey({ key: file.text, format: 'pem', passphrase: password.args[0]!.text });
  } catch (err) {
    cx.error(password.args[0]!, `SSL \`password\` does not decrypt the key ${file.path}: ${(err as Error).message}`);
    return undefined;
  }
}

function errorCount(cx: ParseContext): number {
  return cx.diags.list.filter((x) => x.severity === 'error').length;
}

/** The SSL block, its files read and checked; undefined after an error. */
export function readSsl(st: Statement, cx: ParseContext): SslClient | undefined {
  if (!arity(st, cx, 0)) return undefined;
  const errorsBefore = errorCount(cx);
  const d: SslDraft = {};
  sslTable.apply(d, st.children ?? [], cx);
  const ca = d.ca && pemFile(d.ca.args[0]!, 'ca', CERTIFICATE, cx);
  const certFile = d.certificate && pemFile(d.certificate.args[0]!, 'certificate', CERTIFICATE, cx);
  const keyFile = d.key && pemFile(d.key.args[0]!, 'key', PRIVATE_KEY, cx);
  // keepalived would load one without the other, and the server would then get no certificate at all.
  if (d.certificate && !d.key) cx.error(d.certificate, 'SSL `certificate` needs its `key`');
  if (d.key && !d.certificate) cx.error(d.key, 'SSL `key` needs its `certificate`');
  if (d.password && !d.key) cx.warning(d.password, 'SSL `password` decrypts the `key`, and there is none; ignored');
  if (certFile && keyFile) {
    const cert = certificate(d.certificate!.args[0]!, certFile, cx);
    const key = privateKey(d.key!.args[0]!, keyFile, d.password, cx);
    if (cert && key && !cert.checkPrivateKey(key)) {
      cx.error(d.key!.args[0]!, `SSL \`key\` ${keyFile.path} is not the key of the certificate ${certFile.path} (${cert.subject.replaceAll('\n', ', ')})`);
    }
  }
  if (errorCount(cx) > errorsBefore) return undefined;
  return {
    pos: st.keyword.pos,
    caFile: ca?.path,
    certificateFile: certFile?.path,
    keyFile: keyFile?.path,
    password: d.key ? d.password?.args[0]!.text : undefined,
  };
}

/** A top-level SSL block as read, kept with its statement until the virtual servers are built. */
export interface SslBlock {
  client: SslClient | undefined;
  st: Statement;
}

function withClient(checker: Checker, ssl: SslClient): Checker {
  return checker.type === 'SSL_GET' ? { ...checker, sslClient: ssl } : checker;
}

/** The virtual servers with `ssl` given to every SSL_GET checker; warns when there is none to give it to. */
export function applySsl(virtualServers: VirtualServer[], ssl: SslClient, st: Statement, cx: ParseContext): VirtualServer[] {
  const used = virtualServers.some((vs) => vs.realServers.some((rs) => rs.checkers.some((c) => c.type === 'SSL_GET')));
  if (!used) {
    cx.warning(st, 'the SSL block applies to SSL_GET checkers, and there is none');
    return virtualServers;
  }
  return virtualServers.map((vs) => ({
    ...vs,
    realServers: vs.realServers.map((rs) => ({ ...rs, checkers: rs.checkers.map((c) => withClient(c, ssl)) })),
  }));
}
