// vrrp_script, track_file, vrrp_instance and vrrp_sync_group, with keepalived's per-instance
// validation (vrrp_complete_instance) applied and reported.
import type { Statement } from './ast.js';
import { ipAddressBlock, routeBlock, ruleBlock } from './ip-address.js';
import { KeywordTable, type Keyword } from './keywords.js';
import type {
  GlobalDefs, ProcessParamMatch, TrackFile, TrackedFile, TrackedInterface, TrackedProcess, TrackedScript, VrrpInstance, VrrpNotify, VrrpScript,
  VrrpSyncGroup, VrrpTrackProcess,
} from './model.js';
import { suggest } from './suggest.js';
import { address, arity, bool, integer, script, timerMs, type ParseContext } from './values.js';

function setIf<V>(value: V | undefined, set: (v: V) => void): void {
  if (value !== undefined) set(value);
}

function emptyNotify(): VrrpNotify {
  return { master: undefined, backup: undefined, fault: undefined, stop: undefined, deleted: undefined, any: undefined, masterRxLowerPri: undefined };
}

/** `weight N [reverse|noreverse]` starting at args[from]; weight within ±limit. */
function weightOption(st: Statement, from: number, cx: ParseContext, limit = 253): { weight: number; reverse: boolean } | undefined {
  const kw = st.args[from];
  if (!kw) return undefined;
  if (kw.text !== 'weight' || !st.args[from + 1]) {
    cx.error(kw, `expected \`weight N [reverse]\`, not \`${kw.text}\``);
    return undefined;
  }
  const weight = integer(st.args[from + 1]!, cx, -limit, limit, 'a tracking weight');
  const option = st.args[from + 2];
  if (option && option.text !== 'reverse' && option.text !== 'noreverse') {
    cx.error(option, `expected \`reverse\` after the weight, not \`${option.text}\``);
    return undefined;
  }
  if (st.args[from + 3]) {
    cx.error(st.args[from + 3]!, 'too many arguments');
    return undefined;
  }
  return weight === undefined ? undefined : { weight, reverse: option?.text === 'reverse' };
}

function trackedInterfaces(st: Statement, cx: ParseContext): TrackedInterface[] {
  const out: TrackedInterface[] = [];
  for (const child of st.children ?? []) {
    const w = child.args.length ? weightOption(child, 0, cx) : { weight: 0, reverse: false };
    if (w) out.push({ name: child.keyword.text, ...w });
  }
  return out;
}

function trackedByName(st: Statement, cx: ParseContext, weightLimit?: number): Array<TrackedScript & { pos: Statement }> {
  const out: Array<TrackedScript & { pos: Statement }> = [];
  for (const child of st.children ?? []) {
    const w = child.args.length ? weightOption(child, 0, cx, weightLimit) : undefined;
    if (child.args.length && !w) continue;
    out.push({ name: child.keyword.text, weight: w?.weight, reverse: w?.reverse ?? false, pos: child });
  }
  return out;
}

// ---- vrrp_script and track_file ----

interface ScriptDraft {
  script?: VrrpScript['script'];
  intervalMs: number;
  timeoutMs?: number;
  weight: number;
  weightReverse: boolean;
  rise: number;
  fall: number;
  initFail: boolean;
  user?: [string, string];
}

/** `weight N [reverse|noreverse]`, shared by vrrp_script and track_file: the weight and whether it is reversed. */
function weightWithReverse(st: Statement, cx: ParseContext, limit: number, what: string): [number, boolean] | undefined {
  if (!arity(st, cx, 1, 2)) return undefined;
  const w = integer(st.args[0]!, cx, -limit, limit, what);
  const option = st.args[1];
  if (option && option.text !== 'reverse' && option.text !== 'noreverse') {
    cx.error(option, `expected \`reverse\` after the weight, not \`${option.text}\``);
    return undefined;
  }
  return w === undefined ? undefined : [w, option?.text === 'reverse'];
}

const scriptTable = new KeywordTable<ScriptDraft>('vrrp_script', [
  { name: 'script', handle: (d, st, cx) => setIf(script(st, cx), (s) => (d.script = s)) },
  { name: 'interval', handle: (d, st, cx) => arity(st, cx, 1) && setIf(timerMs(st.args[0]!, cx, '`interval`', 1), (ms) => (d.intervalMs = ms)) },
  { name: 'timeout', handle: (d, st, cx) => arity(st, cx, 1) && setIf(timerMs(st.args[0]!, cx, '`timeout`', 1), (ms) => (d.timeoutMs = ms)) },
  {
    name: 'weight',
    handle: (d, st, cx) => {
      const w = weightWithReverse(st, cx, 253, 'a script weight');
      if (!w) return;
      [d.weight, d.weightReverse] = w;
    },
  },
  { name: 'rise', handle: (d, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 1, 0x7fffffff, '`rise`'), (n) => (d.rise = n)) },
  { name: 'fall', handle: (d, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 1, 0x7fffffff, '`fall`'), (n) => (d.fall = n)) },
  { name: 'user', handle: (d, st, cx) => arity(st, cx, 1, 2) && (d.user = [st.args[0]!.text, st.args[1]?.text ?? '']) },
  { name: 'init_fail', handle: (d, st, cx) => arity(st, cx, 0) && (d.initFail = true) },
]);

export function readVrrpScript(st: Statement, cx: ParseContext): VrrpScript | undefined {
  if (!arity(st, cx, 1) || !st.children) {
    if (!st.children) cx.error(st, '`vrrp_script` needs a `{ ... }` block');
    return undefined;
  }
  const d: ScriptDraft = { intervalMs: 1000, weight: 0, weightReverse: false, rise: 1, fall: 1, initFail: false };
  scriptTable.apply(d, st.children, cx);
  if (!d.script) {
    cx.error(st, `vrrp_script ${st.args[0]!.text} has no \`script\``);
    return undefined;
  }
  const [user, group] = d.user ?? ['', ''];
  return {
    name: st.args[0]!.text,
    pos: st.keyword.pos,
    script: { argv: d.script.argv, user: d.script.user || user, group: d.script.group || group },
    intervalMs: d.intervalMs,
    timeoutMs: d.timeoutMs ?? d.intervalMs,
    weight: d.weight,
    weightReverse: d.weightReverse,
    rise: d.rise,
    fall: d.fall,
    initFail: d.initFail,
  };
}

const trackFileTable = new KeywordTable<TrackFile>('track_file', [
  { name: 'file', handle: (t, st, cx) => arity(st, cx, 1) && (t.file = st.args[0]!.text) },
  {
    name: 'weight',
    handle: (t, st, cx) => {
      const w = weightWithReverse(st, cx, 254, 'a track_file weight');
      if (!w) return;
      [t.weight, t.reverse] = w;
    },
  },
  {
    name: 'init_file',
    handle: (t, st, cx) => {
      if (!arity(st, cx, 0, 2)) return;
      let value = 0;
      let overwrite = false;
      for (const tok of st.args) {
        if (tok.text === 'overwrite') overwrite = true;
        else setIf(integer(tok, cx, -2147483648, 2147483647, 'an init_file value'), (n) => (value = n));
      }
      t.initFile = { value, overwrite };
    },
  },
]);

export function readTrackFile(st: Statement, cx: ParseContext): TrackFile | undefined {
  if (!arity(st, cx, 1)) return undefined;
  if (!st.children) {
    cx.error(st, `\`${st.keyword.text}\` needs a \`{ ... }\` block`);
    return undefined;
  }
  const t: TrackFile = { name: st.args[0]!.text, pos: st.keyword.pos, file: '', weight: 1, reverse: false, initFile: undefined };
  trackFileTable.apply(t, st.children, cx);
  if (!t.file) {
    cx.error(st, `track_file ${t.name} has no \`file\``);
    return undefined;
  }
  return t;
}

// ---- vrrp_track_process ----

/** /proc/PID/comm holds at most 15 bytes (TASK_COMM_LEN - 1). */
const COMM_MAX = 15;

interface TrackProcessDraft {
  process?: string;
  params: string[];
  paramMatch?: ProcessParamMatch;
  fullCommand: boolean;
  weight?: { weight: number; reverse: boolean };
  quorum?: { value: number; tok: Statement };
  quorumMax?: number;
  forkDelayMs: number;
  terminateDelayMs: number;
}

function processDelay(which: 'fork' | 'terminate' | 'both'): Keyword<TrackProcessDraft> {
  const name = which === 'both' ? 'delay' : `${which}_delay`;
  return {
    name,
    handle: (d, st, cx) => arity(st, cx, 1) && setIf(timerMs(st.args[0]!, cx, `\`${name}\``, 0.001, 3_600_000), (ms) => {
      if (which !== 'fork') d.terminateDelayMs = ms;
      if (which !== 'terminate') d.forkDelayMs = ms;
    }),
  };
}

const trackProcessTable = new KeywordTable<TrackProcessDraft>('vrrp_track_process', [
  {
    name: 'process',
    handle: (d, st, cx) => {
      if (!arity(st, cx, 1, Number.MAX_SAFE_INTEGER)) return;
      if (d.process !== undefined) {
        cx.error(st, `\`process\` is already set to \`${d.process}\``);
        return;
      }
      d.process = st.args[0]!.text;
      d.params = st.args.slice(1).map((t) => t.text);
      // keepalived: parameters mean the whole command line is compared, exactly unless param_match says otherwise.
      if (d.params.length > 0) d.fullCommand = true;
    },
  },
  {
    name: 'param_match',
    handle: (d, st, cx) => {
      if (!arity(st, cx, 0, 1)) return;
      const kind = st.args[0]?.text;
      if (kind !== undefined && kind !== 'initial' && kind !== 'partial') {
        cx.error(st.args[0]!, `\`param_match\` takes initial or partial (or nothing, for an exact match), not \`${kind}\``);
        return;
      }
      d.paramMatch = kind ?? 'exact';
      d.fullCommand = true;
    },
  },
  {
    name: 'weight',
    handle: (d, st, cx) => {
      if (!arity(st, cx, 1, 2)) return;
      const w = integer(st.args[0]!, cx, -254, 254, 'a track process weight');
      const option = st.args[1];
      if (option && option.text !== 'reverse') {
        cx.error(option, `expected \`reverse\` after the weight, not \`${option.text}\``);
        return;
      }
      if (w !== undefined) d.weight = { weight: w, reverse: option !== undefined };
    },
  },
  { name: 'quorum', handle: (d, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 1, 65535, '`quorum`'), (n) => (d.quorum = { value: n, tok: st })) },
  { name: 'quorum_max', handle: (d, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, 0, 65535, '`quorum_max`'), (n) => (d.quorumMax = n)) },
  processDelay('both'),
  processDelay('terminate'),
  processDelay('fork'),
  { name: 'full_command', handle: (d, st, cx) => arity(st, cx, 0) && (d.fullCommand = true) },
]);

export function readVrrpTrackProcess(st: Statement, cx: ParseContext): VrrpTrackProcess | undefined {
  if (!arity(st, cx, 1)) return undefined;
  if (!st.children) {
    cx.error(st, '`vrrp_track_process` needs a `{ ... }` block');
    return undefined;
  }
  const name = st.args[0]!.text;
  const d: TrackProcessDraft = { params: [], fullCommand: false, forkDelayMs: 0, terminateDelayMs: 0 };
  trackProcessTable.apply(d, st.children, cx);
  if (d.process === undefined) {
    cx.error(st, `vrrp_track_process ${name} has no \`process\``);
    return undefined;
  }
  // quorum_max 0 means "must not run": keepalived then wants no process at all.
  let quorum = d.quorum?.value ?? 1;
  if (d.quorumMax !== undefined && d.quorumMax < quorum) {
    if (d.quorumMax > 0 || quorum > 1) {
      cx.error(d.quorum?.tok ?? st, `vrrp_track_process ${name}: \`quorum\` ${quorum} is above \`quorum_max\` ${d.quorumMax}`);
      return undefined;
    }
    quorum = 0;
  }
  if (!d.fullCommand && Buffer.byteLength(d.process) > COMM_MAX) {
    cx.warning(st, `vrrp_track_process ${name}: a process name is at most ${COMM_MAX} bytes (/proc/PID/comm), so \`${d.process}\` never matches; add \`full_command\` to match the command line`);
  }
  return {
    name,
    pos: st.keyword.pos,
    process: d.process,
    params: d.params,
    paramMatch: d.paramMatch ?? (d.params.length > 0 ? 'exact' : 'none'),
    fullCommand: d.fullCommand,
    weight: d.weight?.weight ?? 0,
    reverse: d.weight?.reverse ?? false,
    quorum,
    quorumMax: d.quorumMax,
    forkDelayMs: d.forkDelayMs,
    terminateDelayMs: d.terminateDelayMs,
  };
}

// ---- vrrp_instance ----

type TrackedDraft = TrackedScript & { pos: Statement };

interface InstanceDraft {
  st: Statement;
  name: string;
  state?: 'MASTER' | 'BACKUP';
  interface?: string;
  vrid?: number;
  priority?: number;
  /** Set even when the value was bad, so no default is announced for it. */
  priorityWritten: boolean;
  advertIntMs?: number;
  advertTok?: Statement;
  version?: 2 | 3;
  nopreempt: boolean;
  preemptDelayMs: number;
  auth?: { type?: 'PASS' | 'AH'; password?: string; st: Statement };
  mcastSrcIp?: VrrpInstance['mcastSrcIp'];
  mcastDstIp?: VrrpInstance['mcastDstIp'];
  unicastSrcIp?: VrrpInstance['unicastSrcIp'];
  unicastPeers: VrrpInstance['unicastPeers'];
  unicastTtl: number;
  dontTrackPrimary: boolean;
  trackInterfaces: TrackedInterface[];
  trackScripts: TrackedDraft[];
  trackFiles: TrackedDraft[];
  trackProcesses: TrackedDraft[];
  vips: VrrpInstance['virtualIpAddresses'];
  excluded: VrrpInstance['virtualIpAddressesExcluded'];
  routes: VrrpInstance['virtualRoutes'];
  rules: VrrpInstance['virtualRules'];
  accept?: boolean;
  promoteSecondaries: boolean;
  skipCheckAdvAddr?: boolean;
  strict?: boolean;
  lowerPrioNoAdvert?: boolean;
  higherPrioSendAdvert?: boolean;
  garpMasterDelayMs?: number;
  garpMasterRepeat?: number;
  garpMasterRefreshMs?: number;
  garpMasterRefreshRepeat?: number;
  garpLowerPrioDelayMs?: number;
  garpLowerPrioRepeat?: number;
  downTimerAdverts?: number;
  smtpAlert?: boolean;
  notify: VrrpNotify;
}

function notifyKeywords<T extends { notify: VrrpNotify }>(names: Array<[string, keyof VrrpNotify]>): Keyword<T>[] {
  return names.map(([name, field]) => ({ name, handle: (d: T, st: Statement, cx: ParseContext) => setIf(script(st, cx), (s) => (d.notify[field] = s)) }));
}

function instanceFlag(name: string, set: (d: InstanceDraft, v: boolean) => void): Keyword<InstanceDraft> {
  return { name, handle: (d, st, cx) => setIf(bool(st, cx), (v) => set(d, v)) };
}

function instanceTimer(name: string, maxMs: number, set: (d: InstanceDraft, ms: number) => void): Keyword<InstanceDraft> {
  return { name, handle: (d, st, cx) => arity(st, cx, 1) && setIf(timerMs(st.args[0]!, cx, `\`${name}\``, 0, maxMs), (ms) => set(d, ms)) };
}

function instanceCount(name: string, min: number, max: number, set: (d: InstanceDraft, n: number) => void): Keyword<InstanceDraft> {
  return { name, handle: (d, st, cx) => arity(st, cx, 1) && setIf(integer(st.args[0]!, cx, min, max, `\`${name}\``), (n) => set(d, n)) };
}

const authTable = new KeywordTable<NonNullable<InstanceDraft['auth']>>('authentication', [
  {
    name: 'auth_type',
    handle: (a, st, cx) => {
      if (!arity(st, cx, 1)) return;
      const t = st.args[0]!.text;
      if (t === 'PASS' || t === 'AH') a.type = t;
      else cx.error(st.args[0]!, `\`auth_type\` takes PASS or AH, not \`${t}\``);
    },
  },
  {
    name: 'auth_pass',
    handle: (a, st, cx) => {
      if (!arity(st, cx, 1)) return;
      let pass = st.args[0]!.text;
      if (Buffer.byteLength(pass) > 8) {
        cx.warning(st.args[0]!, 'the password is longer than 8 bytes; keepalived uses the first 8, so does ipvsd');
        pass = Buffer.from(pass).subarray(0, 8).toString();
      }
      a.password = pass;
    },
  },
]);

const unsupportedInstance: Record<string, string> = {
  use_vmac: 'VMAC interfaces', use_vmac_addr: 'VMAC interfaces', vmac_xmit_base: 'VMAC interfaces', use_ipvlan: 'ipvlan interfaces',
  vrf: 'VRF', track_bfd: 'BFD', linkbeat_use_polling: 'link polling',
  debug: 'debug levels', kernel_rx_buf_size: 'socket buffer tuning', garp_extra_if: 'extra GARP interfaces', vmac_garp_intvl: 'VMAC interfaces',
  native_ipv6: 'not implemented', old_unicast_checksum: 'the pre-1.3.6 checksum', unicast_fault_no_peer: 'not implemented',
  check_unicast_src: 'not implemented', track_src_ip: 'not implemented', notify_priority_changes: 'priority-change notifications',
  lvs_sync_daemon_interface: 'the deprecated per-instance sync daemon; use global `lvs_sync_daemon`',
};

const instanceTable = new KeywordTable<InstanceDraft>(
  'vrrp_instance',
  [
    {
      name: 'state',
      handle: (d, st, cx) => {
        if (!arity(st, cx, 1)) return;
        const s = st.args[0]!.text;
        if (s === 'MASTER' || s === 'BACKUP') d.state = s;
        else cx.error(st.args[0]!, `\`state\` takes MASTER or BACKUP, not \`${s}\``);
      },
    },
    { name: 'interface', handle: (d, st, cx) => arity(st, cx, 1) && (d.interface = st.args[0]!.text) },
    instanceCount('virtual_router_id', 1, 255, (d, n) => (d.vrid = n)),
    {
      name: 'priority',
      handle: (d, st, cx) => {
        d.priorityWritten = true;
        if (arity(st, cx, 1)) setIf(integer(st.args[0]!, cx, 1, 255, '`priority`'), (n) => (d.priority = n));
      },
    },
    {
      name: 'advert_int',
      handle: (d, st, cx) => arity(st, cx, 1) && setIf(timerMs(st.args[0]!, cx, '`advert_int`', 0.001), (ms) => ((d.advertIntMs = ms), (d.advertTok = st))),
    },
    instanceCount('version', 2, 3, (d, n) => (d.version = n as 2 | 3)),
    { name: 'nopreempt', handle: (d, st, cx) => arity(st, cx, 0) && (d.nopreempt = true) },
    { name: 'preempt', handle: (d, st, cx) => arity(st, cx, 0) && (d.nopreempt = false) },
    {
      name: 'preempt_delay',
      handle: (d, st, cx) => arity(st, cx, 1) && setIf(timerMs(st.args[0]!, cx, '`preempt_delay`', 0, 1_000_000), (ms) => (d.preemptDelayMs = ms)),
    },
    {
      name: 'authentication',
      shape: 'block',
      handle: (d, st, cx) => {
        const a: NonNullable<InstanceDraft['auth']> = { st };
        authTable.apply(a, st.children!, cx);
        d.auth = a;
      },
    },
    { name: 'mcast_src_ip', handle: (d, st, cx) => arity(st, cx, 1) && setIf(address(st.args[0]!, cx, '`mcast_src_ip`'), (a) => (d.mcastSrcIp = a)) },
    { name: 'mcast_dst_ip', handle: (d, st, cx) => arity(st, cx, 1) && setIf(address(st.args[0]!, cx, '`mcast_dst_ip`'), (a) => (d.mcastDstIp = a)) },
    { name: 'unicast_src_ip', handle: (d, st, cx) => arity(st, cx, 1) && setIf(address(st.args[0]!, cx, '`unicast_src_ip`'), (a) => (d.unicastSrcIp = a)) },
    {
      name: 'unicast_peer',
      shape: 'block',
      handle: (d, st, cx) => {
        for (const child of st.children!) {
          const a = address(child.keyword, cx, 'a unicast peer');
          if (!a) continue;
          const peer = { ...a, minTtl: 0, maxTtl: 255 };
          for (let i = 0; i < child.args.length; i += 2) {
            const opt = child.args[i]!;
            const v = child.args[i + 1];
            if ((opt.text !== 'min_ttl' && opt.text !== 'max_ttl') || !v) {
              cx.error(opt, `a unicast peer takes \`min_ttl N\` and \`max_ttl N\`, not \`${opt.text}\``);
              break;
            }
            setIf(integer(v, cx, 0, 255, opt.text), (n) => (opt.text === 'min_ttl' ? (peer.minTtl = n) : (peer.maxTtl = n)));
          }
          d.unicastPeers.push(peer);
        }
      },
    },
    instanceCount('unicast_ttl', 1, 255, (d, n) => (d.unicastTtl = n)),
    { name: 'dont_track_primary', handle: (d, st, cx) => arity(st, cx, 0) && (d.dontTrackPrimary = true) },
    { name: 'track_interface', shape: 'block', handle: (d, st, cx) => d.trackInterfaces.push(...trackedInterfaces(st, cx)) },
    { name: 'track_script', shape: 'block', handle: (d, st, cx) => d.trackScripts.push(...trackedByName(st, cx)) },
    { name: 'track_file', aliases: ['vrrp_track_file'], shape: 'block', handle: (d, st, cx) => d.trackFiles.push(...trackedByName(st, cx)) },
    { name: 'track_process', shape: 'block', handle: (d, st, cx) => d.trackProcesses.push(...trackedByName(st, cx, 254)) },
    { name: 'virtual_ipaddress', shape: 'block', handle: (d, st, cx) => d.vips.push(...ipAddressBlock(st, cx)) },
    { name: 'virtual_ipaddress_excluded', shape: 'block', handle: (d, st, cx) => d.excluded.push(...ipAddressBlock(st, cx)) },
    { name: 'virtual_routes', shape: 'block', handle: (d, st, cx) => d.routes.push(...routeBlock(st, cx)) },
    { name: 'virtual_rules', shape: 'block', handle: (d, st, cx) => d.rules.push(...ruleBlock(st, cx)) },
    { name: 'accept', handle: (d, st, cx) => arity(st, cx, 0) && (d.accept = true) },
    { name: 'no_accept', handle: (d, st, cx) => arity(st, cx, 0) && (d.accept = false) },
    { name: 'promote_secondaries', handle: (d, st, cx) => arity(st, cx, 0) && (d.promoteSecondaries = true) },
    instanceFlag('skip_check_adv_addr', (d, v) => (d.skipCheckAdvAddr = v)),
    instanceFlag('strict_mode', (d, v) => (d.strict = v)),
    instanceFlag('lower_prio_no_advert', (d, v) => (d.lowerPrioNoAdvert = v)),
    instanceFlag('higher_prio_send_advert', (d, v) => (d.higherPrioSendAdvert = v)),
    instanceFlag('smtp_alert', (d, v) => (d.smtpAlert = v)),
    instanceTimer('garp_master_delay', 255_000, (d, ms) => (d.garpMasterDelayMs = ms)),
    instanceCount('garp_master_repeat', 1, 255, (d, n) => (d.garpMasterRepeat = n)),
    instanceTimer('garp_master_refresh', 0x7fffffff, (d, ms) => (d.garpMasterRefreshMs = ms)),
    instanceCount('garp_master_refresh_repeat', 1, 255, (d, n) => (d.garpMasterRefreshRepeat = n)),
    instanceTimer('garp_lower_prio_delay', 255_000, (d, ms) => (d.garpLowerPrioDelayMs = ms)),
    instanceCount('garp_lower_prio_repeat', 0, 255, (d, n) => (d.garpLowerPrioRepeat = n)),
    instanceCount('down_timer_adverts', 1, 100, (d, n) => (d.downTimerAdverts = n)),
    ...notifyKeywords<InstanceDraft>([
      ['notify_master', 'master'], ['notify_backup', 'backup'], ['notify_fault', 'fault'], ['notify_stop', 'stop'],
      ['notify_deleted', 'deleted'], ['notify', 'any'], ['notify_master_rx_lower_pri', 'masterRxLowerPri'],
    ]),
  ],
  unsupportedInstance,
);

export function readVrrpInstance(st: Statement, cx: ParseContext): InstanceDraft | undefined {
  if (!arity(st, cx, 1)) return undefined;
  if (!st.children) {
    cx.error(st, '`vrrp_instance` needs a `{ ... }` block');
    return undefined;
  }
  const d: InstanceDraft = {
    st, name: st.args[0]!.text, priorityWritten: false, nopreempt: false, preemptDelayMs: 0, unicastPeers: [], unicastTtl: 255,
    dontTrackPrimary: false, trackInterfaces: [], trackScripts: [], trackFiles: [], trackProcesses: [], vips: [], excluded: [], routes: [], rules: [],
    promoteSecondaries: false, notify: emptyNotify(),
  };
  instanceTable.apply(d, st.children, cx);
  return d;
}

export type { InstanceDraft };

function resolveTracked(list: TrackedDraft[], known: ReadonlySet<string>, what: string, cx: ParseContext): Array<TrackedScript | TrackedFile> {
  const out: Array<TrackedScript | TrackedFile> = [];
  for (const t of list) {
    if (!known.has(t.name)) {
      const near = suggest(t.name, known);
      cx.error(t.pos, `no ${what} \`${t.name}\` is defined${near ? `; did you mean \`${near}\`?` : ''}`);
      continue;
    }
    out.push({ name: t.name, weight: t.weight, reverse: t.reverse });
  }
  return out;
}

/** Resolves track_process entries; keepalived ignores a second entry for the same process. */
function resolveProcesses(list: TrackedDraft[], known: ReadonlySet<string>, cx: ParseContext): TrackedProcess[] {
  const unique = list.filter((t, i) => {
    if (list.findIndex((o) => o.name === t.name) === i) return true;
    cx.warning(t.pos, `track_process \`${t.name}\` is listed twice; keepalived ignores the second entry, so does ipvsd`);
    return false;
  });
  return resolveTracked(unique, known, 'vrrp_track_process', cx);
}

/** The sync group an instance belongs to, if any, as far as tracking weights are concerned. */
export interface SyncMembership {
  group: string;
  trackingWeight: boolean;
}

const strictKeywords = {
  garpLowerPrioDelayMs: 'garp_lower_prio_delay',
  garpLowerPrioRepeat: 'garp_lower_prio_repeat',
  lowerPrioNoAdvert: 'lower_prio_no_advert',
  higherPrioSendAdvert: 'higher_prio_send_advert',
} as const;

/** The instance's own value, or the global one; strict mode imposes `required` (saying so if it overrides). */
function strictDefault<K extends keyof typeof strictKeywords>(
  d: InstanceDraft,
  key: K,
  global: NonNullable<InstanceDraft[K]>,
  required: NonNullable<InstanceDraft[K]>,
  strict: boolean,
  cx: ParseContext,
): NonNullable<InstanceDraft[K]> {
  const own = d[key];
  if (!strict) return (own ?? global) as NonNullable<InstanceDraft[K]>;
  if (own !== undefined && own !== required) {
    cx.warning(d.st, `vrrp_instance ${d.name}: strict mode requires \`${strictKeywords[key]}\` to be ${String(required)}; keepalived resets it, so does ipvsd`);
  }
  return required;
}

export function finishVrrpInstance(
  d: InstanceDraft,
  globals: GlobalDefs,
  scripts: ReadonlyMap<string, VrrpScript>,
  files: ReadonlyMap<string, TrackFile>,
  processes: ReadonlyMap<string, VrrpTrackProcess>,
  sync: SyncMembership | undefined,
  cx: ParseContext,
): VrrpInstance | undefined {
  const name = d.name;
  let ok = true;
  if (d.vrid === undefined) {
    cx.error(d.st, `vrrp_instance ${name} has no \`virtual_router_id\``);
    ok = false;
  }
  if (d.interface === undefined) {
    cx.error(d.st, `vrrp_instance ${name} has no \`interface\``);
    ok = false;
  }
  const family = d.vips[0]?.family ?? d.unicastSrcIp?.family ?? 'inet';
  for (const vip of d.vips) {
    if (vip.family !== family) {
      cx.error(d.st, `vrrp_instance ${name}: \`virtual_ipaddress\` mixes IPv4 and IPv6 (put the others in \`virtual_ipaddress_excluded\`)`);
      ok = false;
      break;
    }
  }
  for (const peer of d.unicastPeers) {
    if (peer.family !== family) {
      cx.error(d.st, `vrrp_instance ${name}: unicast peer ${peer.address} is not in the instance's address family`);
      ok = false;
    }
  }
  let version = d.version ?? globals.vrrp.version;
  if (family === 'inet6' && version === 2) {
    if (d.version === 2) cx.warning(d.st, `vrrp_instance ${name}: IPv6 needs VRRP version 3; keepalived uses 3, so does ipvsd`);
    version = 3;
  }
  const strict = d.strict ?? globals.vrrp.strict;
  let nopreempt = d.nopreempt;
  let preemptDelayMs = d.preemptDelayMs;
  // keepalived derives whichever of priority and state is missing from the other.
  const priority = d.priority ?? (d.state === 'MASTER' ? 255 : 100);
  const state = d.state ?? (priority === 255 ? 'MASTER' : 'BACKUP');
  if (!d.priorityWritten && d.state === 'MASTER') {
    cx.warning(d.st, `vrrp_instance ${name}: \`state MASTER\` without \`priority\` makes it the address owner; keepalived uses priority 255, so does ipvsd`);
  }
  if (strict && (state === 'MASTER') !== (priority === 255)) {
    cx.warning(d.st, `vrrp_instance ${name}: in strict mode only the address owner (priority 255) starts as MASTER; keepalived starts it as ${priority === 255 ? 'MASTER' : 'BACKUP'}, so does ipvsd`);
  }
  if (priority === 255 && nopreempt) {
    cx.warning(d.st, `vrrp_instance ${name}: \`nopreempt\` is incompatible with priority 255; keepalived clears it, so does ipvsd`);
    nopreempt = false;
  }
  if (state === 'MASTER' && nopreempt) {
    cx.warning(d.st, `vrrp_instance ${name}: \`nopreempt\` does not work with \`state MASTER\`; keepalived clears it, so does ipvsd (use \`state BACKUP\`)`);
    nopreempt = false;
  }
  if (state === 'MASTER' && preemptDelayMs) {
    cx.warning(d.st, `vrrp_instance ${name}: \`preempt_delay\` does not work with \`state MASTER\`; keepalived clears it, so does ipvsd`);
    preemptDelayMs = 0;
  }
  if (preemptDelayMs && nopreempt) {
    cx.warning(d.st, `vrrp_instance ${name}: \`preempt_delay\` is incompatible with \`nopreempt\`; keepalived clears it, so does ipvsd`);
    preemptDelayMs = 0;
  }
  let authentication: VrrpInstance['authentication'];
  if (d.auth) {
    if (!d.auth.password) {
      cx.warning(d.auth.st, `vrrp_instance ${name}: authentication without \`auth_pass\`; keepalived ignores it, so does ipvsd`);
    } else if (version === 3) {
      cx.warning(d.auth.st, `vrrp_instance ${name}: VRRP version 3 has no authentication; keepalived ignores it, so does ipvsd`);
    } else if (strict) {
      cx.warning(d.auth.st, `vrrp_instance ${name}: strict mode does not allow authentication; keepalived ignores it, so does ipvsd`);
    } else if (d.auth.type === 'AH' && family === 'inet6') {
      cx.warning(d.auth.st, `vrrp_instance ${name}: AH authentication does not work with IPv6; keepalived ignores it, so does ipvsd`);
    } else {
      authentication = { type: d.auth.type ?? 'PASS', password: d.auth.password };
    }
  }
  let advertIntMs = d.advertIntMs ?? 1000;
  if (version === 2) {
    if (advertIntMs >= 256_000) {
      cx.warning(d.advertTok!, `VRRPv2 advert_int must be below 256 s; keepalived uses 255, so does ipvsd`);
      advertIntMs = 255_000;
    } else if (advertIntMs % 1000) {
      const rounded = Math.max(1000, Math.round(advertIntMs / 1000) * 1000);
      cx.warning(d.advertTok!, `VRRPv2 advert_int must be whole seconds; keepalived rounds it to ${rounded / 1000}, so does ipvsd (or use \`version 3\`)`);
      advertIntMs = rounded;
    }
  } else if (advertIntMs >= 40_960) {
    cx.warning(d.advertTok!, 'VRRPv3 advert_int must be below 40.96 s; keepalived uses 40.95, so does ipvsd');
    advertIntMs = 40_950;
  } else if (advertIntMs % 10) {
    const rounded = Math.max(10, Math.round(advertIntMs / 10) * 10);
    cx.warning(d.advertTok!, `VRRPv3 advert_int is in units of 10 ms; keepalived rounds it to ${rounded / 1000}, so does ipvsd`);
    advertIntMs = rounded;
  }
  if (d.vips.length === 0) {
    if (version === 3 || family === 'inet6' || strict) {
      cx.error(d.st, `vrrp_instance ${name} has no \`virtual_ipaddress\`; VRRP version 3, IPv6 and strict mode need at least one`);
      ok = false;
    } else {
      cx.warning(d.st, `vrrp_instance ${name} has no \`virtual_ipaddress\``);
    }
  }
  let trackInterfaces = d.trackInterfaces.filter((ti) => {
    if (ti.name !== d.interface) return true;
    cx.warning(d.st, `vrrp_instance ${name}: tracking its own interface ${ti.name} is implicit; keepalived ignores this track_interface entry, so does ipvsd`);
    return false;
  });
  let trackScripts = resolveTracked(d.trackScripts, new Set(scripts.keys()), 'vrrp_script', cx) as TrackedScript[];
  let trackFiles = resolveTracked(d.trackFiles, new Set(files.keys()), 'track_file', cx) as TrackedFile[];
  let trackProcesses = resolveProcesses(d.trackProcesses, new Set(processes.keys()), cx);
  // Weights would make members of a sync group disagree, and an owner's priority never moves.
  const owner = priority === 255;
  if ((sync && !sync.trackingWeight) || owner) {
    const why = sync && !sync.trackingWeight ? `it is in vrrp_sync_group ${sync.group} (set \`sync_group_tracking_weight\` there to keep weights)` : 'it is the address owner (priority 255)';
    trackInterfaces = trackInterfaces.flatMap((ti) => {
      if (ti.weight === 0) return [ti];
      cx.warning(d.st, `vrrp_instance ${name}: the weight of tracked interface ${ti.name} is ignored because ${why}; keepalived ${owner && !sync ? 'stops tracking it' : 'uses weight 0'}, so does ipvsd`);
      return owner && !sync ? [] : [{ ...ti, weight: 0 }];
    });
    trackScripts = trackScripts.filter((ts) => {
      if ((ts.weight ?? scripts.get(ts.name)!.weight) === 0) return true;
      cx.warning(d.st, `vrrp_instance ${name}: tracked script ${ts.name} has a weight, which is ignored because ${why}; keepalived drops it, so does ipvsd`);
      return false;
    });
    trackFiles = trackFiles.flatMap((tf) => {
      const weight = tf.weight ?? files.get(tf.name)!.weight;
      if (weight === 0) return [tf];
      cx.warning(d.st, `vrrp_instance ${name}: tracked file ${tf.name} has weight ${weight}, which is ignored because ${why}; keepalived ${weight === 1 ? 'uses weight 0' : 'drops it'}, so does ipvsd`);
      return weight === 1 ? [{ ...tf, weight: 0 }] : [];
    });
    // keepalived documents that these need weight 0 here and ignores an owner's weights; ipvsd drops them as it does scripts.
    trackProcesses = trackProcesses.filter((tp) => {
      if ((tp.weight ?? processes.get(tp.name)!.weight) === 0) return true;
      cx.warning(d.st, `vrrp_instance ${name}: tracked process ${tp.name} has a weight, which is ignored because ${why}; ipvsd drops it (set weight 0 to track it)`);
      return false;
    });
  }
  if (strict && d.unicastPeers.length > 0) {
    cx.error(d.st, `vrrp_instance ${name}: unicast peers are not allowed in strict mode`);
    ok = false;
  }
  if (strict && preemptDelayMs) {
    cx.warning(d.st, `vrrp_instance ${name}: \`preempt_delay\` is incompatible with strict mode; keepalived clears it, so does ipvsd`);
    preemptDelayMs = 0;
  }
  // Strict mode forbids these; elsewhere the global settings (themselves defaulting to the
  // global GARP settings) apply.
  const strictGarp = {
    garpLowerPrioDelayMs: strictDefault(d, 'garpLowerPrioDelayMs', globals.vrrp.garpLowerPrioDelayMs ?? globals.vrrp.garpMasterDelayMs, 0, strict, cx),
    garpLowerPrioRepeat: strictDefault(d, 'garpLowerPrioRepeat', globals.vrrp.garpLowerPrioRepeat ?? globals.vrrp.garpMasterRepeat, 0, strict, cx),
  };
  const lowerPrioNoAdvert = strictDefault(d, 'lowerPrioNoAdvert', globals.vrrp.lowerPrioNoAdvert, true, strict, cx);
  const higherPrioSendAdvert = strictDefault(d, 'higherPrioSendAdvert', globals.vrrp.higherPrioSendAdvert, false, strict, cx);
  if (!ok) return undefined;
  const garpMasterDelayMs = d.garpMasterDelayMs ?? globals.vrrp.garpMasterDelayMs;
  const garpMasterRepeat = d.garpMasterRepeat ?? globals.vrrp.garpMasterRepeat;
  return {
    name,
    pos: d.st.keyword.pos,
    state: strict ? (priority === 255 ? 'MASTER' : 'BACKUP') : state,
    interface: d.interface!,
    virtualRouterId: d.vrid!,
    priority,
    advertIntMs,
    version,
    family,
    nopreempt,
    preemptDelayMs,
    authentication,
    mcastSrcIp: d.mcastSrcIp,
    mcastDstIp: d.mcastDstIp ?? { address: family === 'inet' ? globals.vrrp.mcastGroup4 : globals.vrrp.mcastGroup6, family },
    unicastSrcIp: d.unicastSrcIp,
    unicastPeers: d.unicastPeers,
    unicastTtl: d.unicastTtl,
    dontTrackPrimary: d.dontTrackPrimary,
    trackInterfaces,
    trackScripts,
    trackFiles,
    trackProcesses,
    virtualIpAddresses: d.vips,
    virtualIpAddressesExcluded: d.excluded,
    virtualRoutes: d.routes,
    virtualRules: d.rules,
    accept: d.accept ?? (priority === 255 || !strict),
    promoteSecondaries: d.promoteSecondaries,
    skipCheckAdvAddr: d.skipCheckAdvAddr ?? globals.vrrp.skipCheckAdvAddr,
    strict,
    lowerPrioNoAdvert,
    higherPrioSendAdvert,
    garpMasterDelayMs,
    garpMasterRepeat,
    garpMasterRefreshMs: d.garpMasterRefreshMs ?? globals.vrrp.garpMasterRefreshMs,
    garpMasterRefreshRepeat: d.garpMasterRefreshRepeat ?? globals.vrrp.garpMasterRefreshRepeat,
    ...strictGarp,
    downTimerAdverts: d.downTimerAdverts ?? globals.vrrp.downTimerAdverts,
    smtpAlert: d.smtpAlert ?? globals.smtpAlertVrrp ?? globals.smtpAlert ?? false,
    notify: d.notify,
  };
}

// ---- vrrp_sync_group ----

interface SyncDraft {
  instances: string[];
  instancesAt: Statement[];
  trackInterfaces: TrackedInterface[];
  trackScripts: TrackedDraft[];
  trackFiles: TrackedDraft[];
  trackProcesses: TrackedDraft[];
  notify: VrrpNotify;
  smtpAlert?: boolean;
  trackingWeight: boolean;
}

const syncTable = new KeywordTable<SyncDraft>(
  'vrrp_sync_group',
  [
    {
      name: 'group',
      shape: 'block',
      handle: (g, st) => {
        for (const child of st.children!) {
          for (const tok of [child.keyword, ...child.args]) {
            g.instances.push(tok.text);
            g.instancesAt.push({ keyword: tok, args: [], rest: '' });
          }
        }
      },
    },
    { name: 'track_interface', shape: 'block', handle: (g, st, cx) => g.trackInterfaces.push(...trackedInterfaces(st, cx)) },
    { name: 'track_script', shape: 'block', handle: (g, st, cx) => g.trackScripts.push(...trackedByName(st, cx)) },
    { name: 'track_file', shape: 'block', handle: (g, st, cx) => g.trackFiles.push(...trackedByName(st, cx)) },
    { name: 'track_process', shape: 'block', handle: (g, st, cx) => g.trackProcesses.push(...trackedByName(st, cx, 254)) },
    { name: 'smtp_alert', handle: (g, st, cx) => setIf(bool(st, cx), (v) => (g.smtpAlert = v)) },
    { name: 'sync_group_tracking_weight', handle: (g, st, cx) => arity(st, cx, 0) && (g.trackingWeight = true) },
    { name: 'global_tracking', deprecated: [], handle: (_g, st, cx) => arity(st, cx, 0) && cx.warning(st, '`global_tracking` is deprecated and does nothing') },
    ...notifyKeywords<SyncDraft>([['notify_master', 'master'], ['notify_backup', 'backup'], ['notify_fault', 'fault'], ['notify_stop', 'stop'], ['notify', 'any']]),
  ],
  { track_bfd: 'BFD', notify_priority_changes: 'priority-change notifications' },
);

export function readSyncGroup(
  st: Statement,
  instances: ReadonlySet<string>,
  scripts: ReadonlySet<string>,
  files: ReadonlySet<string>,
  processes: ReadonlySet<string>,
  globals: GlobalDefs,
  cx: ParseContext,
): VrrpSyncGroup | undefined {
  if (!arity(st, cx, 1)) return undefined;
  if (!st.children) {
    cx.error(st, '`vrrp_sync_group` needs a `{ ... }` block');
    return undefined;
  }
  const g: SyncDraft = { instances: [], instancesAt: [], trackInterfaces: [], trackScripts: [], trackFiles: [], trackProcesses: [], notify: emptyNotify(), trackingWeight: false };
  syncTable.apply(g, st.children, cx);
  g.instances.forEach((name, i) => {
    if (!instances.has(name)) {
      const near = suggest(name, instances);
      cx.error(g.instancesAt[i]!, `no vrrp_instance \`${name}\` is defined${near ? `; did you mean \`${near}\`?` : ''}`);
    }
  });
  if (g.instances.length === 0) cx.warning(st, `vrrp_sync_group ${st.args[0]!.text} has no instances; keepalived ignores it, so does ipvsd`);
  return {
    name: st.args[0]!.text,
    pos: st.keyword.pos,
    instances: g.instances.filter((n) => instances.has(n)),
    trackInterfaces: g.trackInterfaces,
    trackScripts: resolveTracked(g.trackScripts, scripts, 'vrrp_script', cx) as TrackedScript[],
    trackFiles: resolveTracked(g.trackFiles, files, 'track_file', cx) as TrackedFile[],
    trackProcesses: resolveProcesses(g.trackProcesses, processes, cx),
    notify: g.notify,
    smtpAlert: g.smtpAlert ?? globals.smtpAlertVrrp ?? globals.smtpAlert ?? false,
    syncGroupTrackingWeight: g.trackingWeight,
  };
}
