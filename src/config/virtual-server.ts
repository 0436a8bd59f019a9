// virtual_server and real_server blocks as read, before keepalived's validation pass.
import type { Statement, Token } from './ast.js';
import { checkerTypes, extensionKeywords, readChecker, type CheckerDraft, type CheckerTables, type TimingDraft } from './checkers.js';
import { KeywordTable, type Keyword } from './keywords.js';
import { forwardingMethod, protocol, scheduler } from './lvs-values.js';
import type { ForwardingMethod, Script, VirtualServerTarget } from './model.js';
import { INT32_MAX, address, arity, bool, integer, port, script, timerMs, type ParseContext } from './values.js';
import type { AddressFamily, Protocol } from '../ipvs/model.js';

/** Settings both a virtual server and a real server may set, inherited VS -> RS -> checker. */
export interface SharedDraft {
  timing: TimingDraft;
  inhibitOnFailure?: boolean;
  virtualhost?: string;
  smtpAlert?: boolean;
  weight?: number;
  forwarding?: ForwardingMethod;
}

export interface RealServerDraft extends SharedDraft {
  st: Statement;
  address: string;
  family: AddressFamily;
  port: number;
  upperThreshold: number;
  lowerThreshold: number;
  notifyUp?: Script;
  notifyDown?: Script;
  checkers: CheckerDraft[];
}

export interface VirtualServerDraft extends SharedDraft {
  st: Statement;
  target: VirtualServerTarget;
  protocol?: Protocol;
  scheduler?: string;
  flags: { flag1: boolean; flag2: boolean; flag3: boolean };
  onePacket: boolean;
  persistenceTimeout?: number;
  granularity?: Statement;
  persistenceEngine: string;
  ipFamily?: AddressFamily;
  haSuspend: boolean;
  omega: boolean;
  quorum: number;
  hysteresis: number;
  quorumUp?: Script;
  quorumDown?: Script;
  sorry?: { st: Statement; address: string; family: AddressFamily; port: number };
  sorryInhibit: boolean;
  sorryForwarding?: ForwardingMethod;
  realServers: RealServerDraft[];
}

function setIf<V>(value: V | undefined, set: (v: V) => void): void {
  if (value !== undefined) set(value);
}

function sharedTimer(name: string, field: 'delayLoopMs' | 'connectTimeoutMs' | 'delayBeforeRetryMs' | 'warmupMs', minMs = 0): Keyword<SharedDraft> {
  return {
    name,
    handle: (d, st, cx) => arity(st, cx, 1) && setIf(timerMs(st.args[0]!, cx, `\`${name}\``, minMs), (ms) => (d.timing[field] = ms)),
  };
}

const sharedKeywords: Keyword<SharedDraft>[] = [
  sharedTimer('delay_loop', 'delayLoopMs', 0.001),
  sharedTimer('connect_timeout', 'connectTimeoutMs', 0.001),
  sharedTimer('delay_before_retry', 'delayBeforeRetryMs'),
  sharedTimer('warmup', 'warmupMs'),
  {
    name: 'retry',
    handle: (d, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 0, 0xffffffff - 1, '`retry`'), (n) => (d.timing.retry = n)),
  },
  ...extensionKeywords(),
  { name: 'virtualhost', handle: (d, st, cx) => arity(st, cx, 1) && (d.virtualhost = st.args[0]!.text) },
  { name: 'smtp_alert', handle: (d, st, cx) => setIf(bool(st, cx), (v) => (d.smtpAlert = v)) },
  {
    name: 'weight',
    handle: (d, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 0, INT32_MAX, 'a weight'), (n) => (d.weight = n)),
  },
  {
    name: 'lvs_method',
    aliases: ['lb_kind'],
    handle: (d, st, cx) => arity(st, cx, 1, 6) && setIf(forwardingMethod(st, cx), (f) => (d.forwarding = f)),
  },
];

const snmpOnly = { snmp_name: 'SNMP' };

/** Real-server switches take a BOOL. */
const realServerSwitches: Keyword<SharedDraft>[] = [
  { name: 'alpha', handle: (d, st, cx) => setIf(bool(st, cx), (v) => (d.timing.alpha = v)) },
  { name: 'inhibit_on_failure', handle: (d, st, cx) => setIf(bool(st, cx), (v) => (d.inhibitOnFailure = v)) },
];

/**
 * keepalived 2.2.7 turns these virtual-server switches on whatever follows them (its handlers
 * read no argument), so `alpha off` means alpha; ipvsd does the same and says so.
 */
function presence(st: Statement, cx: ParseContext): boolean {
  const value = st.args[0];
  if (value && !['on', 'true', 'yes'].includes(value.text.toLowerCase())) {
    cx.warning(value, `keepalived ignores the value of \`${st.keyword.text}\` in a virtual_server and turns it on, so does ipvsd (remove the line to leave it off)`);
  }
  return true;
}

const virtualServerSwitches: Keyword<VirtualServerDraft>[] = [
  { name: 'alpha', handle: (d, st, cx) => arity(st, cx, 0, 1) && (d.timing.alpha = presence(st, cx)) },
  { name: 'inhibit_on_failure', handle: (d, st, cx) => arity(st, cx, 0, 1) && (d.inhibitOnFailure = presence(st, cx)) },
  { name: 'ha_suspend', handle: (d, st, cx) => arity(st, cx, 0, 1) && (d.haSuspend = presence(st, cx)) },
  { name: 'omega', handle: (d, st, cx) => arity(st, cx, 0, 1) && (d.omega = presence(st, cx)) },
  {
    name: 'sorry_server_inhibit',
    handle: (d, st, cx) => {
      if (!arity(st, cx, 0, 1)) return;
      if (!d.sorry) {
        cx.warning(st, 'keepalived ignores `sorry_server_inhibit` before (or without) `sorry_server`, so does ipvsd');
        return;
      }
      d.sorryInhibit = presence(st, cx);
    },
  },
];

/** An address and optional port, as `real_server` and `sorry_server` take them. */
function endpoint(st: Statement, cx: ParseContext, what: string): { address: string; family: AddressFamily; port: number } | undefined {
  if (!arity(st, cx, 1, 2)) return undefined;
  const a = address(st.args[0]!, cx, what);
  const p = st.args[1] ? port(st.args[1], cx) : 0;
  return a && p !== undefined ? { ...a, port: p } : undefined;
}

function realServerTable(checkers: CheckerTables): KeywordTable<RealServerDraft> {
  const checkerKeywords: Keyword<RealServerDraft>[] = checkerTypes.map((type) => ({
    name: type,
    shape: 'block',
    handle: (rs, st, cx) => setIf(readChecker(type, st, checkers, cx), (c) => rs.checkers.push(c)),
  }));
  return new KeywordTable<RealServerDraft>(
    'real_server',
    [
      ...(sharedKeywords as Keyword<RealServerDraft>[]),
      ...(realServerSwitches as Keyword<RealServerDraft>[]),
      ...checkerKeywords,
      { name: 'uthreshold', handle: (rs, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 0, 0xffffffff, '`uthreshold`'), (n) => (rs.upperThreshold = n)) },
      { name: 'lthreshold', handle: (rs, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 0, 0xffffffff, '`lthreshold`'), (n) => (rs.lowerThreshold = n)) },
      { name: 'notify_up', handle: (rs, st, cx) => setIf(script(st, cx), (s) => (rs.notifyUp = s)) },
      { name: 'notify_down', handle: (rs, st, cx) => setIf(script(st, cx), (s) => (rs.notifyDown = s)) },
    ],
    { ...snmpOnly, BFD_CHECK: 'BFD' },
  );
}

function flagKeyword(name: string, set: (vs: VirtualServerDraft) => void): Keyword<VirtualServerDraft> {
  return { name, handle: (vs, st, cx) => arity(st, cx, 0) && set(vs) };
}

/** sh-/mh- flags only mean something for their scheduler, which must already be set. */
function schedFlag(name: string, sched: 'sh' | 'mh', flag: 'flag1' | 'flag2'): Keyword<VirtualServerDraft> {
  return {
    name,
    handle: (vs, st, cx) => {
      if (!arity(st, cx, 0)) return;
      if (vs.scheduler === sched) vs.flags[flag] = true;
      else cx.warning(st, `\`${name}\` applies only when \`lvs_sched ${sched}\` is set before it; keepalived ignores it here, so does ipvsd`);
    },
  };
}

function virtualServerTable(checkers: CheckerTables): KeywordTable<VirtualServerDraft> {
  const rsTable = realServerTable(checkers);
  return new KeywordTable<VirtualServerDraft>(
    'virtual_server',
    [
      ...(sharedKeywords as Keyword<VirtualServerDraft>[]),
      ...virtualServerSwitches,
      { name: 'lvs_sched', aliases: ['lb_algo'], handle: (vs, st, cx) => arity(st, cx, 1) && setIf(scheduler(st, cx), (s) => (vs.scheduler = s)) },
      flagKeyword('flag-1', (vs) => (vs.flags.flag1 = true)),
      flagKeyword('flag-2', (vs) => (vs.flags.flag2 = true)),
      flagKeyword('flag-3', (vs) => (vs.flags.flag3 = true)),
      schedFlag('sh-fallback', 'sh', 'flag1'),
      schedFlag('sh-port', 'sh', 'flag2'),
      schedFlag('mh-fallback', 'mh', 'flag1'),
      schedFlag('mh-port', 'mh', 'flag2'),
      flagKeyword('ops', (vs) => (vs.onePacket = true)),
      {
        name: 'hashed',
        handle: (_vs, st, cx) => arity(st, cx, 0) && cx.warning(st, '`hashed` does nothing (keepalived accepts and ignores it)'),
      },
      {
        name: 'persistence_timeout',
        handle: (vs, st, cx) => {
          if (!arity(st, cx, 0, 1)) return;
          if (!st.args[0]) vs.persistenceTimeout = 360;
          else setIf(integer(st.args[0], cx, 1, 86400 * 31, '`persistence_timeout`'), (n) => (vs.persistenceTimeout = n));
        },
      },
      { name: 'persistence_granularity', handle: (vs, st, cx) => arity(st, cx, 1) && (vs.granularity = st) },
      { name: 'persistence_engine', handle: (vs, st, cx) => arity(st, cx, 1) && (vs.persistenceEngine = st.args[0]!.text) },
      { name: 'protocol', handle: (vs, st, cx) => arity(st, cx, 1) && setIf(protocol(st, cx), (p) => (vs.protocol = p)) },
      {
        name: 'ip_family',
        handle: (vs, st, cx) => {
          if (!arity(st, cx, 1)) return;
          const f = st.args[0]!.text;
          if (f === 'inet' || f === 'inet6') vs.ipFamily = f;
          else cx.error(st.args[0]!, `\`ip_family\` takes inet or inet6, not \`${f}\``);
        },
      },
      { name: 'quorum', handle: (vs, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 1, 0xffffffff, '`quorum`'), (n) => (vs.quorum = n)) },
      { name: 'hysteresis', handle: (vs, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 0, 0xffffffff, '`hysteresis`'), (n) => (vs.hysteresis = n)) },
      { name: 'quorum_up', handle: (vs, st, cx) => setIf(script(st, cx), (s) => (vs.quorumUp = s)) },
      { name: 'quorum_down', handle: (vs, st, cx) => setIf(script(st, cx), (s) => (vs.quorumDown = s)) },
      { name: 'sorry_server', handle: (vs, st, cx) => setIf(endpoint(st, cx, 'a sorry server'), (e) => (vs.sorry = { st, ...e })) },
      {
        name: 'sorry_server_lvs_method',
        handle: (vs, st, cx) => arity(st, cx, 1, 6) && setIf(forwardingMethod(st, cx), (f) => (vs.sorryForwarding = f)),
      },
      {
        name: 'real_server',
        shape: 'block',
        handle: (vs, st, cx) => {
          const e = endpoint(st, cx, 'a real server');
          if (!e) return;
          const rs: RealServerDraft = { st, ...e, timing: {}, upperThreshold: 0, lowerThreshold: 0, checkers: [] };
          rsTable.apply(rs, st.children!, cx);
          vs.realServers.push(rs);
        },
      },
    ],
    snmpOnly,
  );
}

function target(st: Statement, cx: ParseContext): VirtualServerTarget | undefined {
  const [first, second] = st.args as [Token | undefined, Token | undefined];
  if (!first) {
    cx.error(st, '`virtual_server` needs an address and port, `fwmark N` or `group NAME`');
    return undefined;
  }
  if (first.text === 'fwmark') {
    if (!arity(st, cx, 2)) return undefined;
    const mark = integer(second!, cx, 1, 0xffffffff, 'a fwmark');
    return mark === undefined ? undefined : { kind: 'fwmark', fwmark: mark };
  }
  if (first.text === 'group') {
    return arity(st, cx, 2) ? { kind: 'group', name: second!.text } : undefined;
  }
  if (!arity(st, cx, 1, 2)) return undefined;
  const a = address(first, cx, 'a virtual server');
  const p = second ? port(second, cx) : 0;
  return a && p !== undefined ? { kind: 'address', address: a.address, family: a.family, port: p } : undefined;
}

export type VirtualServerReader = (st: Statement, cx: ParseContext) => VirtualServerDraft | undefined;

export function virtualServerReader(checkers: CheckerTables): VirtualServerReader {
  const table = virtualServerTable(checkers);
  return (st, cx) => {
    const t = target(st, cx);
    if (!st.children) {
      cx.error(st, '`virtual_server` needs a `{ ... }` block');
      return undefined;
    }
    const vs: VirtualServerDraft = {
      st,
      target: t ?? { kind: 'fwmark', fwmark: 0 },
      timing: {},
      flags: { flag1: false, flag2: false, flag3: false },
      onePacket: false,
      persistenceEngine: '',
      haSuspend: false,
      omega: false,
      quorum: 1,
      hysteresis: 0,
      sorryInhibit: false,
      realServers: [],
    };
    // Read the body even when the header is bad, so its problems are reported too.
    table.apply(vs, st.children, cx);
    return t ? vs : undefined;
  };
}
