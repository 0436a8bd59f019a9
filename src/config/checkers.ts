// Checker blocks inside a real_server: the common keywords, one table per checker type, and
// the resolution of every timing setting through checker -> real server -> virtual server.
import type { Statement } from './ast.js';
import { KeywordTable, type Keyword } from './keywords.js';
import type {
  Address, CheckConnection, CheckTiming, Checker, CheckerType, DnsType, Endpoint, HttpUrl,
  Script, TrackFile,
} from './model.js';
import { checkHttpExtensions, httpExtensionKeywords, httpExtensions } from './http-extensions.js';
import { address, arity, bool, integer, port, script, setIf, timerMs, warnNotKeepalived, type ParseContext } from './values.js';

/** Timing as written: undefined means "inherit". */
export type TimingDraft = { [K in keyof CheckTiming]?: CheckTiming[K] };

interface ConnectionDraft {
  connectIp?: Address;
  connectPort?: number;
  bindTo?: Address;
  bindPort?: number;
  bindInterface?: string;
  fwmark?: number;
}

/** A checker as read; `finishChecker` turns it into the model type. */
export interface CheckerDraft {
  type: CheckerType;
  st: Statement;
  timing: TimingDraft;
  conn: ConnectionDraft;
  /** Type-specific settings, already in model form. */
  spec: Record<string, unknown>;
  urls: HttpUrl[];
}

/** What a checker inherits, after the real server has inherited from its virtual server. */
export interface Inherited {
  target: Endpoint;
  timing: TimingDraft & { delayLoopMs: number; connectTimeoutMs: number; alpha: boolean };
  /** For MISC_CHECK's default timeout. */
  vsDelayLoopMs: number;
  logAllFailures: boolean;
  /** Default Host for HTTP_GET / SSL_GET. */
  virtualhost: string | undefined;
}

export interface CheckerScope {
  /** Defined so far: keepalived looks track_file up while parsing, so it must come first. */
  trackFiles: Map<string, TrackFile>;
}

const defaultRetry: Partial<Record<CheckerType, number>> = { MISC_CHECK: 0, DNS_CHECK: 3 };
/** 0 means "the checker's delay_loop". */
const defaultDelayBeforeRetryMs: Partial<Record<CheckerType, number>> = { HTTP_GET: 3000, SSL_GET: 3000, DNS_CHECK: 0 };

function timer(name: string, field: 'delayLoopMs' | 'connectTimeoutMs' | 'delayBeforeRetryMs' | 'warmupMs', minMs = 0): Keyword<CheckerDraft> {
  return {
    name,
    handle: (c, st, cx) => {
      if (!arity(st, cx, 1)) return;
      const ms = timerMs(st.args[0]!, cx, `\`${name}\``, minMs);
      if (ms !== undefined) c.timing[field] = ms;
    },
  };
}

const timingKeywords: Keyword<CheckerDraft>[] = [
  {
    name: 'retry',
    deprecated: ['nb_get_retry'],
    handle: (c, st, cx) => {
      if (!arity(st, cx, 1)) return;
      const n = integer(st.args[0]!, cx, 0, 0xffffffff - 1, '`retry`');
      if (n !== undefined) c.timing.retry = n;
    },
  },
  timer('delay_before_retry', 'delayBeforeRetryMs'),
  timer('warmup', 'warmupMs'),
  timer('delay_loop', 'delayLoopMs', 0.001),
  { name: 'alpha', handle: (c, st, cx) => setIf(bool(st, cx), (v) => (c.timing.alpha = v)) },
  { name: 'log_all_failures', handle: (c, st, cx) => setIf(bool(st, cx), (v) => (c.timing.logAllFailures = v)) },
  ...extensionKeywords(),
];

function count(name: 'rise' | 'fall'): Keyword<{ timing: TimingDraft }> {
  return {
    name,
    handle: (c, st, cx) => {
      if (!arity(st, cx, 1)) return;
      warnNotKeepalived(st, cx);
      const n = integer(st.args[0]!, cx, 1, 1000, `\`${name}\``);
      if (n !== undefined) c.timing[name] = n;
    },
  };
}

/**
 * HAProxy-style counting and fast failure: opt-in keywords keepalived does not have. Accepted in
 * checkers, real servers and virtual servers, inherited like `retry`.
 */
export function extensionKeywords(): Keyword<{ timing: TimingDraft }>[] {
  return [
    count('rise'),
    count('fall'),
    {
      name: 'fast_fail',
      handle: (c, st, cx) => {
        warnNotKeepalived(st, cx);
        setIf(bool(st, cx), (v) => (c.timing.fastFail = v));
      },
    },
  ];
}

const connectionKeywords: Keyword<CheckerDraft>[] = [
  { name: 'connect_ip', handle: (c, st, cx) => arity(st, cx, 1) && setIf(address(st.args[0]!, cx, '`connect_ip`'), (a) => (c.conn.connectIp = a)) },
  { name: 'connect_port', handle: (c, st, cx) => arity(st, cx, 1) && setIf(port(st.args[0]!, cx), (p) => (c.conn.connectPort = p)) },
  { name: 'bindto', handle: (c, st, cx) => arity(st, cx, 1) && setIf(address(st.args[0]!, cx, '`bindto`'), (a) => (c.conn.bindTo = a)) },
  { name: 'bind_port', handle: (c, st, cx) => arity(st, cx, 1) && setIf(port(st.args[0]!, cx), (p) => (c.conn.bindPort = p)) },
  { name: 'bind_if', handle: (c, st, cx) => arity(st, cx, 1) && (c.conn.bindInterface = st.args[0]!.text) },
  { name: 'fwmark', handle: (c, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 0, 0xffffffff, '`fwmark`'), (n) => (c.conn.fwmark = n)) },
  timer('connect_timeout', 'connectTimeoutMs', 0.001),
];

const connected = [...connectionKeywords, ...timingKeywords];

function specText(name: string, field: string): Keyword<CheckerDraft> {
  return { name, handle: (c, st, cx) => arity(st, cx, 1) && (c.spec[field] = st.args[0]!.text) };
}

function specFlag(name: string, field: string): Keyword<CheckerDraft> {
  return { name, handle: (c, st, cx) => setIf(bool(st, cx), (v) => (c.spec[field] = v)) };
}

function parseStatusCodes(st: Statement, cx: ParseContext): Array<{ from: number; to: number }> | undefined {
  if (!arity(st, cx, 1, 100)) return undefined;
  const codes: Array<{ from: number; to: number }> = [];
  for (const tok of st.args) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(tok.text);
    const from = m ? Number(m[1]) : NaN;
    const to = m?.[2] !== undefined ? Number(m[2]) : from;
    if (!m || from < 100 || to > 599 || from > to) {
      cx.error(tok, `\`status_code\` takes HTTP status codes or ranges like 200-299 (100..599), not \`${tok.text}\``);
      return undefined;
    }
    codes.push({ from, to });
  }
  return codes;
}

const urlTable = new KeywordTable<HttpUrl>('url', [
  { name: 'path', handle: (u, st, cx) => arity(st, cx, 1) && (u.path = st.args[0]!.text) },
  {
    name: 'digest',
    handle: (u, st, cx) => {
      if (!arity(st, cx, 1)) return;
      const hex = st.args[0]!.text;
      if (/^[0-9a-fA-F]{32}$/.test(hex)) u.digest = hex.toLowerCase();
      else cx.error(st.args[0]!, `\`digest\` must be an MD5 digest (32 hex digits), not \`${hex}\``);
    },
  },
  { name: 'status_code', handle: (u, st, cx) => setIf(parseStatusCodes(st, cx), (codes) => u.statusCodes.push(...codes)) },
  { name: 'virtualhost', handle: (u, st, cx) => arity(st, cx, 1) && (u.virtualhost = st.args[0]!.text) },
  { name: 'regex', handle: (u, st, cx) => arity(st, cx, 1) && (u.regex = st.args[0]!.text) },
  { name: 'regex_no_match', handle: (u, st, cx) => setIf(bool(st, cx), (v) => (u.regexNoMatch = v)) },
  { name: 'regex_options', handle: (u, st, cx) => arity(st, cx, 1, 20) && u.regexOptions.push(...st.args.map((a) => a.text)) },
  { name: 'regex_min_offset', handle: (u, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 0, 0xffffffff, '`regex_min_offset`'), (n) => (u.regexMinOffset = n)) },
  { name: 'regex_max_offset', handle: (u, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 0, 0xffffffff, '`regex_max_offset`'), (n) => (u.regexMaxOffset = n)) },
  { name: 'regex_stack', handle: (_u, st, cx) => arity(st, cx, 1) },
  { name: 'tls_compliant', handle: (_u, st, cx) => bool(st, cx) },
]);

const httpKeywords: Keyword<CheckerDraft>[] = [
  ...connected,
  ...httpExtensionKeywords,
  specText('virtualhost', 'virtualhost'),
  {
    name: 'http_protocol',
    handle: (c, st, cx) => {
      if (!arity(st, cx, 1)) return;
      const v = st.args[0]!.text;
      if (v === '1.0' || v === '1.0C' || v === '1.1') c.spec['httpProtocol'] = v;
      else cx.error(st.args[0]!, `\`http_protocol\` takes 1.0, 1.0C or 1.1, not \`${v}\``);
    },
  },
  specFlag('enable_sni', 'enableSni'),
  specFlag('fast_recovery', 'fastRecovery'),
  specFlag('tls_compliant', 'tlsCompliant'),
  {
    name: 'url',
    shape: 'block',
    handle: (c, st, cx) => {
      const url: HttpUrl = {
        path: '', digest: undefined, statusCodes: [], virtualhost: undefined, regex: undefined,
        regexNoMatch: false, regexOptions: [], regexMinOffset: 0, regexMaxOffset: 0,
      };
      urlTable.apply(url, st.children!, cx);
      if (!url.path) {
        cx.error(st, '`url` has no `path`; keepalived would ignore this url');
        return;
      }
      if (url.statusCodes.length === 0) url.statusCodes.push({ from: 200, to: 299 });
      c.urls.push(url);
    },
  },
];

const dnsTypes: readonly DnsType[] = ['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA', 'RRSIG', 'DNSKEY'];

function hex(name: string, field: string, wildcard: boolean): Keyword<CheckerDraft> {
  const pattern = wildcard ? /^([0-9a-fA-FxX]{2})+$/ : /^([0-9a-fA-F]{2})+$/;
  return {
    name,
    handle: (c, st, cx) => {
      if (!arity(st, cx, 1)) return;
      const v = st.args[0]!.text;
      if (pattern.test(v)) c.spec[field] = v.toLowerCase();
      else cx.error(st.args[0]!, `\`${name}\` must be hex bytes${wildcard ? ' (X for a wildcard nibble)' : ''}, not \`${v}\``);
    },
  };
}

function lengthKeyword(name: string, field: string): Keyword<CheckerDraft> {
  return { name, handle: (c, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 0, 65535, `\`${name}\``), (n) => (c.spec[field] = n)) };
}

function fileCheckKeywords(scope: CheckerScope): Keyword<CheckerDraft>[] {
  return [
    {
      name: 'track_file',
      handle: (c, st, cx) => {
        if (!arity(st, cx, 1)) return;
        const file = scope.trackFiles.get(st.args[0]!.text);
        if (!file) {
          cx.error(st.args[0]!, `no \`track_file ${st.args[0]!.text}\` is defined before this FILE_CHECK`);
          return;
        }
        c.spec['trackFile'] = file.name;
        c.spec['weight'] ??= file.weight;
        c.spec['reverse'] ??= file.reverse;
      },
    },
    {
      name: 'weight',
      handle: (c, st, cx) => {
        if (!arity(st, cx, 1, 2)) return;
        const w = integer(st.args[0]!, cx, -254, 254, 'a FILE_CHECK weight');
        const option = st.args[1]?.text;
        if (option !== undefined && option !== 'reverse' && option !== 'noreverse') {
          cx.error(st.args[1]!, `\`weight\` takes \`reverse\` or \`noreverse\` after the number, not \`${option}\``);
          return;
        }
        if (w === undefined) return;
        c.spec['weight'] = w;
        c.spec['reverse'] = option === 'reverse';
      },
    },
  ];
}

export type CheckerTables = Record<CheckerType, KeywordTable<CheckerDraft>>;

/** One set of tables per load: FILE_CHECK's depends on the track files defined so far. */
export function checkerTables(scope: CheckerScope): CheckerTables {
  return {
    TCP_CHECK: new KeywordTable('TCP_CHECK', connected),
    HTTP_GET: new KeywordTable('HTTP_GET', httpKeywords),
    SSL_GET: new KeywordTable('SSL_GET', httpKeywords),
    PING_CHECK: new KeywordTable('PING_CHECK', connected),
    UDP_CHECK: new KeywordTable('UDP_CHECK', [
      ...connected,
      hex('payload', 'payload', false),
      hex('require_reply', 'requireReply', true),
      lengthKeyword('min_reply_length', 'minReplyLength'),
      lengthKeyword('max_reply_length', 'maxReplyLength'),
    ]),
    DNS_CHECK: new KeywordTable('DNS_CHECK', [
      ...connected,
      {
        name: 'type',
        handle: (c, st, cx) => {
          if (!arity(st, cx, 1)) return;
          const t = st.args[0]!.text.toUpperCase() as DnsType;
          if (dnsTypes.includes(t)) c.spec['queryType'] = t;
          else cx.error(st.args[0]!, `\`type\` takes one of ${dnsTypes.join(' ')}, not \`${st.args[0]!.text}\``);
        },
      },
      specText('name', 'name'),
    ]),
    SMTP_CHECK: new KeywordTable('SMTP_CHECK', [...connected, specText('helo_name', 'heloName')], {
      host: 'the deprecated host sub-block; put the connection keywords in SMTP_CHECK itself',
    }),
    MISC_CHECK: new KeywordTable('MISC_CHECK', [
      ...timingKeywords,
      { name: 'misc_path', handle: (c, st, cx) => setIf(script(st, cx), (s) => (c.spec['script'] = s)) },
      {
        name: 'misc_timeout',
        handle: (c, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 0, 4294967, '`misc_timeout`'), (s) => (c.spec['timeoutMs'] = s * 1000)),
      },
      specFlag('misc_dynamic', 'dynamic'),
      { name: 'user', handle: (c, st, cx) => arity(st, cx, 1, 2) && (c.spec['user'] = [st.args[0]!.text, st.args[1]?.text ?? '']) },
    ]),
    FILE_CHECK: new KeywordTable('FILE_CHECK', fileCheckKeywords(scope)),
  };
}

export const checkerTypes: readonly CheckerType[] = [
  'TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'PING_CHECK', 'UDP_CHECK', 'DNS_CHECK', 'SMTP_CHECK', 'MISC_CHECK', 'FILE_CHECK',
];

/** Reads one checker block; undefined when it is unusable (already reported). */
export function readChecker(type: CheckerType, st: Statement, tables: CheckerTables, cx: ParseContext): CheckerDraft | undefined {
  const draft: CheckerDraft = { type, st, timing: {}, conn: {}, spec: {}, urls: [] };
  const before = cx.diags.list.length;
  tables[type].apply(draft, st.children ?? [], cx);
  const failed = cx.diags.list.slice(before).some((d) => d.severity === 'error');
  if (type === 'MISC_CHECK' && !draft.spec['script']) {
    cx.error(st, 'MISC_CHECK needs `misc_path`');
    return undefined;
  }
  if (type === 'FILE_CHECK' && !draft.spec['trackFile']) {
    cx.error(st, 'FILE_CHECK needs `track_file`');
    return undefined;
  }
  if ((type === 'HTTP_GET' || type === 'SSL_GET') && draft.urls.length === 0 && !failed) {
    cx.error(st, `${type} has no \`url\`; keepalived would ignore this checker`);
    return undefined;
  }
  if (type === 'HTTP_GET' || type === 'SSL_GET') checkHttpExtensions(draft, cx);
  return draft;
}

/**
 * The extension settings, the checker's own or inherited, present only when written somewhere
 * (so keepalived-only models stay as they were).
 */
function extensions(own: TimingDraft, inherited: TimingDraft): Pick<CheckTiming, 'rise' | 'fall' | 'fastFail'> {
  const rise = own.rise ?? inherited.rise;
  const fall = own.fall ?? inherited.fall;
  const fastFail = own.fastFail ?? inherited.fastFail;
  return {
    ...(rise !== undefined && { rise }),
    ...(fall !== undefined && { fall }),
    ...(fastFail !== undefined && { fastFail }),
  };
}

/** The model checker, with every inherited and default setting resolved. */
export function finishChecker(c: CheckerDraft, from: Inherited): Checker {
  const pos = c.st.keyword.pos;
  if (c.type === 'FILE_CHECK') {
    return { type: 'FILE_CHECK', pos, trackFile: c.spec['trackFile'] as string, weight: c.spec['weight'] as number, reverse: c.spec['reverse'] as boolean };
  }
  const delayLoopMs = c.timing.delayLoopMs ?? from.timing.delayLoopMs;
  const dbrDefault = defaultDelayBeforeRetryMs[c.type] ?? 1000;
  const timing: CheckTiming = {
    delayLoopMs,
    connectTimeoutMs: c.timing.connectTimeoutMs ?? from.timing.connectTimeoutMs,
    retry: c.timing.retry ?? from.timing.retry ?? defaultRetry[c.type] ?? 1,
    delayBeforeRetryMs: c.timing.delayBeforeRetryMs ?? from.timing.delayBeforeRetryMs ?? (dbrDefault || delayLoopMs),
    warmupMs: c.timing.warmupMs ?? from.timing.warmupMs ?? delayLoopMs,
    alpha: c.timing.alpha ?? from.timing.alpha,
    logAllFailures: c.timing.logAllFailures ?? from.logAllFailures,
    ...extensions(c.timing, from.timing),
  };
  if (c.type === 'MISC_CHECK') {
    const [user, group] = (c.spec['user'] as [string, string] | undefined) ?? ['', ''];
    const s = c.spec['script'] as Script;
    return {
      type: 'MISC_CHECK',
      pos,
      ...timing,
      script: { argv: s.argv, user: s.user || user, group: s.group || group },
      timeoutMs: (c.spec['timeoutMs'] as number | undefined) || from.vsDelayLoopMs,
      dynamic: (c.spec['dynamic'] as boolean | undefined) ?? false,
    };
  }
  const connection: CheckConnection = {
    connectIp: c.conn.connectIp ?? { address: from.target.address, family: from.target.family },
    connectPort: c.conn.connectPort ?? from.target.port,
    bindTo: c.conn.bindTo,
    bindPort: c.conn.bindPort ?? 0,
    bindInterface: c.conn.bindInterface,
    fwmark: c.conn.fwmark ?? 0,
  };
  const base = { pos, ...timing, ...connection };
  switch (c.type) {
    case 'TCP_CHECK':
    case 'PING_CHECK':
      return { type: c.type, ...base };
    case 'HTTP_GET':
    case 'SSL_GET':
      return {
        type: c.type,
        ...base,
        httpProtocol: (c.spec['httpProtocol'] as '1.0' | '1.0C' | '1.1' | undefined) ?? '1.0',
        virtualhost: (c.spec['virtualhost'] as string | undefined) ?? from.virtualhost,
        enableSni: (c.spec['enableSni'] as boolean | undefined) ?? false,
        fastRecovery: (c.spec['fastRecovery'] as boolean | undefined) ?? false,
        urls: c.urls,
        ...httpExtensions(c),
      };
    case 'UDP_CHECK':
      return {
        type: 'UDP_CHECK',
        ...base,
        payload: c.spec['payload'] as string | undefined,
        requireReply: c.spec['requireReply'] as string | undefined,
        minReplyLength: (c.spec['minReplyLength'] as number | undefined) ?? 0,
        maxReplyLength: (c.spec['maxReplyLength'] as number | undefined) ?? 255,
      };
    case 'DNS_CHECK':
      return {
        type: 'DNS_CHECK',
        ...base,
        queryType: (c.spec['queryType'] as DnsType | undefined) ?? 'SOA',
        name: (c.spec['name'] as string | undefined) ?? '.',
      };
    case 'SMTP_CHECK':
      return { type: 'SMTP_CHECK', ...base, heloName: (c.spec['heloName'] as string | undefined) ?? 'smtpchecker.keepalived.org' };
  }
}
