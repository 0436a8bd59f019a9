// The HTTP_GET / SSL_GET keywords beyond keepalived's (ipvsd extensions, warned as such): the
// request method, extra headers, expected response headers, certificate verification.
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Statement } from './ast.js';
import type { CheckerDraft } from './checkers.js';
import type { Keyword } from './keywords.js';
import type { ExpectedHttpHeader, HttpCheck, HttpHeader } from './model.js';
import { arity, bool, setIf, warnNotKeepalived, type ParseContext } from './values.js';

/** RFC 9110 token: a method or a header name. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

// Headers the probe sets itself, or that a body-less request closing its connection cannot carry.
const reservedHeaders: Readonly<Record<string, string>> = {
  host: 'set it with `virtualhost`',
  'user-agent': 'ipvsd sends KeepAliveClient, as keepalived does',
  connection: 'every check closes its connection',
  'keep-alive': 'every check closes its connection',
  upgrade: 'every check closes its connection',
  'content-length': 'a check sends no body',
  'transfer-encoding': 'a check sends no body',
  expect: 'a check sends no body',
};

/** `Name: value` (quoted or not) split at the first colon; value undefined when there is no colon. */
function headerText(st: Statement, cx: ParseContext): { name: string; value: string | undefined } | undefined {
  if (!arity(st, cx, 1, 100)) return undefined;
  const text = st.args.map((a) => a.text).join(' ');
  const colon = text.indexOf(':');
  const name = (colon < 0 ? text : text.slice(0, colon)).trim();
  const value = colon < 0 ? undefined : text.slice(colon + 1).trim();
  if (!TOKEN.test(name)) {
    cx.error(st.args[0]!, `\`${st.keyword.text}\` needs a header name (letters, digits and !#$%&'*+.^_\`|~-) before the colon, not \`${name}\``);
    return undefined;
  }
  // Tabs are allowed in a header value; other control characters would split or corrupt the request.
  if (value !== undefined && /[\0-\x08\n-\x1f\x7f]/.test(value)) {
    cx.error(st.args[0]!, `\`${st.keyword.text}\`: the value of ${name} holds a control character`);
    return undefined;
  }
  return { name, value };
}

function list<V>(c: CheckerDraft, field: string): V[] {
  return (c.spec[field] ??= []) as V[];
}

/** The request beyond keepalived's GET: method, headers, expected response headers, certificate checks. */
export const httpExtensionKeywords: Keyword<CheckerDraft>[] = [
  {
    name: 'http_method',
    handle: (c, st, cx) => {
      if (!arity(st, cx, 1)) return;
      warnNotKeepalived(st, cx);
      const tok = st.args[0]!;
      const method = tok.text.toUpperCase();
      if (!TOKEN.test(method)) cx.error(tok, `\`http_method\` takes a method such as GET, HEAD or POST, not \`${tok.text}\``);
      else if (method === 'CONNECT') cx.error(tok, '`http_method CONNECT` opens a tunnel and cannot check a url');
      else c.spec['method'] = method;
    },
  },
  {
    name: 'http_header',
    handle: (c, st, cx) => {
      if (st.args.length > 0) warnNotKeepalived(st, cx);
      const h = headerText(st, cx);
      if (!h) return;
      const reserved = reservedHeaders[h.name.toLowerCase()];
      if (h.value === undefined) cx.error(st.args[0]!, `\`http_header\` takes \`"Name: value"\`, not \`${h.name}\``);
      else if (reserved !== undefined) cx.error(st.args[0]!, `\`http_header\` cannot set ${h.name}: ${reserved}`);
      else list<HttpHeader>(c, 'requestHeaders').push({ name: h.name, value: h.value });
    },
  },
  {
    name: 'expect_header',
    handle: (c, st, cx) => {
      if (st.args.length > 0) warnNotKeepalived(st, cx);
      const h = headerText(st, cx);
      if (h) list<ExpectedHttpHeader>(c, 'expectHeaders').push({ name: h.name, value: h.value || undefined });
    },
  },
  {
    name: 'verify_certificate',
    handle: (c, st, cx) => {
      warnNotKeepalived(st, cx);
      setIf(bool(st, cx), (v) => tlsOnly(c, st, cx) && (c.spec['verifyCertificate'] = v));
    },
  },
  {
    name: 'ca_file',
    handle: (c, st, cx) => {
      if (!arity(st, cx, 1)) return;
      warnNotKeepalived(st, cx);
      if (tlsOnly(c, st, cx)) setIf(caFile(st, cx), (path) => (c.spec['caFile'] = path));
    },
  },
];

function tlsOnly(c: CheckerDraft, st: Statement, cx: ParseContext): boolean {
  if (c.type === 'SSL_GET') return true;
  cx.warning(st, `\`${st.keyword.text}\` applies to SSL_GET only; ignored in ${c.type}`);
  return false;
}

/** CA bundles are a few hundred KiB; a bigger "file" is a mistake (or a device) not worth reading. */
const MAX_CA_FILE_BYTES = 4 * 1024 * 1024;

/** The CA file's absolute path (relative to the file naming it), read now so a bad one fails the load. */
function caFile(st: Statement, cx: ParseContext): string | undefined {
  const tok = st.args[0]!;
  const path = resolve(dirname(tok.pos.file), tok.text);
  let text: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile() || stat.size > MAX_CA_FILE_BYTES) {
      cx.error(tok, `\`ca_file\` ${path} is not a regular file of at most ${MAX_CA_FILE_BYTES / 1024 / 1024} MiB`);
      return undefined;
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    cx.error(tok, `cannot read \`ca_file\` ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    cx.error(tok, `\`ca_file\` ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    return undefined;
  }
  return path;
}

/** Settings that only make sense together, checked once the whole block is read. */
export function checkHttpExtensions(c: CheckerDraft, cx: ParseContext): void {
  const last = (name: string): Statement | undefined => (c.st.children ?? []).filter((s) => s.keyword.text === name).pop();
  const caFileSt = last('ca_file');
  if (c.spec['caFile'] !== undefined && c.spec['verifyCertificate'] !== true && caFileSt) {
    cx.warning(caFileSt, '`ca_file` is used only with `verify_certificate`; ignored');
    delete c.spec['caFile'];
  }
  const methodSt = last('http_method');
  if (c.spec['method'] === 'HEAD' && methodSt) {
    for (const url of c.urls) {
      if (url.digest !== undefined || url.regex !== undefined) {
        cx.error(methodSt, `a HEAD answer has no body, so the \`digest\` or \`regex\` of url ${url.path} cannot match`);
      }
    }
  }
}

/** The extension settings as written; absent keys keep keepalived-only models as they were. */
export function httpExtensions(c: CheckerDraft): Pick<HttpCheck, 'method' | 'requestHeaders' | 'expectHeaders' | 'verifyCertificate' | 'caFile'> {
  const picked: Record<string, unknown> = {};
  for (const key of ['method', 'requestHeaders', 'expectHeaders', 'verifyCertificate', 'caFile']) {
    if (c.spec[key] !== undefined) picked[key] = c.spec[key];
  }
  return picked;
}
