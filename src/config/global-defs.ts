// global_defs: the LVS, notification, script-security and VRRP-default options.
import type { Statement } from './ast.js';
import { KeywordTable, type Keyword } from './keywords.js';
import type { Fifo, GlobalDefs, LvsSyncDaemon, Script } from './model.js';
import { address, arity, bool, integer, port, script, timerMs, type ParseContext } from './values.js';

export function defaultGlobalDefs(): GlobalDefs {
  return {
    routerId: '',
    notificationEmail: [],
    notificationEmailFrom: '',
    smtpServer: undefined,
    smtpHeloName: '',
    smtpConnectTimeoutMs: 30_000,
    smtpAlert: undefined,
    smtpAlertVrrp: undefined,
    smtpAlertChecker: undefined,
    checkerLogAllFailures: false,
    noCheckerEmails: false,
    rsInitNotifies: false,
    lvsFlush: false,
    lvsFlushOnStop: 'default',
    lvsTimeouts: { tcp: 0, tcpFin: 0, udp: 0 },
    lvsSyncDaemon: undefined,
    notifyFifo: undefined,
    vrrpNotifyFifo: undefined,
    lvsNotifyFifo: undefined,
    scriptUser: undefined,
    enableScriptSecurity: false,
    reloadCheckConfig: false,
    dynamicInterfaces: false,
    vrrp: {
      mcastGroup4: '224.0.0.18',
      mcastGroup6: 'ff02::12',
      version: 2,
      garpMasterDelayMs: 5000,
      garpMasterRepeat: 5,
      garpMasterRefreshMs: 0,
      garpMasterRefreshRepeat: 1,
      garpLowerPrioDelayMs: undefined,
      garpLowerPrioRepeat: undefined,
      garpIntervalMs: 0,
      gnaIntervalMs: 0,
      minGarp: false,
      downTimerAdverts: 3,
      lowerPrioNoAdvert: false,
      higherPrioSendAdvert: false,
      checkUnicastSrc: false,
      skipCheckAdvAddr: false,
      strict: false,
      startupDelayMs: 0,
      notifyPriorityChanges: false,
    },
  };
}

/** global_defs as it is being read: FIFO scripts may come before their FIFO. */
export interface GlobalDefsDraft {
  defs: GlobalDefs;
  fifoScripts: Partial<Record<FifoField, { script: Script; st: Statement }>>;
}

type FifoField = 'notifyFifo' | 'vrrpNotifyFifo' | 'lvsNotifyFifo';
type Draft = GlobalDefsDraft;

function text(name: string, set: (d: GlobalDefs, value: string) => void): Keyword<Draft> {
  return { name, handle: (d, st, cx) => arity(st, cx, 1) && set(d.defs, st.args[0]!.text) };
}

function flag(name: string, set: (d: GlobalDefs, value: boolean) => void, aliases?: string[]): Keyword<Draft> {
  return {
    name,
    ...(aliases ? { aliases } : {}),
    handle: (d, st, cx) => {
      const v = bool(st, cx);
      if (v !== undefined) set(d.defs, v);
    },
  };
}

function vrrpTimer(name: string, set: (d: GlobalDefs, ms: number) => void, maxMs?: number): Keyword<Draft> {
  return {
    name,
    handle: (d, st, cx) => {
      if (!arity(st, cx, 1)) return;
      const ms = timerMs(st.args[0]!, cx, `\`${name}\``, 0, maxMs);
      if (ms !== undefined) set(d.defs, ms);
    },
  };
}

function vrrpMcastGroup(name: string, family: 'inet' | 'inet6', label: string, set: (d: GlobalDefs, address: string) => void): Keyword<Draft> {
  return {
    name,
    handle: (d, st, cx) => {
      if (!arity(st, cx, 1)) return;
      const a = address(st.args[0]!, cx, `\`${name}\``);
      if (a && a.family !== family) cx.error(st.args[0]!, `\`${name}\` must be an ${label} address`);
      else if (a) set(d.defs, a.address);
    },
  };
}

function vrrpCount(name: string, min: number, max: number, set: (d: GlobalDefs, n: number) => void): Keyword<Draft> {
  return {
    name,
    handle: (d, st, cx) => {
      if (!arity(st, cx, 1)) return;
      const n = integer(st.args[0]!, cx, min, max, `\`${name}\``);
      if (n !== undefined) set(d.defs, n);
    },
  };
}

function fifo(name: string, field: FifoField): Keyword<Draft>[] {
  return [
    {
      name,
      handle: (d, st, cx) => {
        if (arity(st, cx, 1, 3)) d.defs[field] = { path: st.args[0]!.text, script: undefined };
      },
    },
    {
      name: `${name}_script`,
      handle: (d, st, cx) => {
        const s = script(st, cx);
        if (s) d.fifoScripts[field] = { script: { ...s, pos: st.keyword.pos }, st };
      },
    },
  ];
}

const syncDaemonNumbers = {
  id: [0, 255, 'syncId'],
  maxlen: [1, 65507, 'maxLength'],
  port: [1, 65535, 'port'],
  ttl: [1, 255, 'ttl'],
} as const;
const syncDaemonOptions = new Set(['inst', 'group', ...Object.keys(syncDaemonNumbers)]);

function parseSyncDaemon(st: Statement, cx: ParseContext): LvsSyncDaemon | undefined {
  if (!arity(st, cx, 1, 14)) return undefined;
  const daemon: LvsSyncDaemon = {
    interface: st.args[0]!.text,
    instance: undefined,
    syncId: undefined,
    maxLength: 0,
    port: 8848,
    ttl: 1,
    group: '224.0.0.81',
  };
  const args = st.args;
  for (let i = 1; i < args.length; i++) {
    const word = args[i]!;
    const option = word.text;
    if (!syncDaemonOptions.has(option)) {
      if (i === 1) {
        daemon.instance = option;
        continue;
      }
      cx.error(word, `unknown \`lvs_sync_daemon\` option \`${option}\``);
      return undefined;
    }
    const value = args[++i];
    if (!value) {
      cx.error(word, `\`lvs_sync_daemon\` option \`${option}\` needs a value`);
      return undefined;
    }
    if (option === 'inst') {
      daemon.instance = value.text;
    } else if (option === 'group') {
      const group = address(value, cx, 'the sync daemon group');
      if (!group) return undefined;
      daemon.group = group.address;
    } else {
      const [min, max, field] = syncDaemonNumbers[option as keyof typeof syncDaemonNumbers];
      const n = integer(value, cx, min, max, `\`lvs_sync_daemon ${option}\``);
      if (n === undefined) return undefined;
      daemon[field] = n;
    }
  }
  return daemon;
}

function parseTimeouts(d: GlobalDefs, st: Statement, cx: ParseContext): void {
  if (!arity(st, cx, 2, 6)) return;
  const fields = { tcp: 'tcp', tcpfin: 'tcpFin', udp: 'udp' } as const;
  for (let i = 0; i < st.args.length; i += 2) {
    const name = st.args[i]!;
    const field = fields[name.text as keyof typeof fields];
    if (!field) {
      cx.error(name, `\`lvs_timeouts\` takes tcp, tcpfin and udp, not \`${name.text}\``);
      return;
    }
    const value = st.args[i + 1];
    if (!value) {
      cx.error(name, `\`lvs_timeouts ${name.text}\` needs a number of seconds`);
      return;
    }
    const seconds = integer(value, cx, 1, 86400 * 31, `the ${name.text} timeout`);
    if (seconds !== undefined) d.lvsTimeouts[field] = seconds;
  }
}

const unsupportedGlobal: Record<string, string> = {};
for (const k of ['snmp_socket', 'enable_traps', 'enable_snmp_vrrp', 'enable_snmp_keepalived', 'enable_snmp_rfc', 'enable_snmp_rfcv2', 'enable_snmp_rfcv3', 'enable_snmp_checker', 'snmp_vs_stats_update_interval', 'snmp_rs_stats_update_interval']) unsupportedGlobal[k] = 'SNMP; use the Prometheus endpoint';
for (const k of ['enable_dbus', 'dbus_service_name']) unsupportedGlobal[k] = 'DBus; use the control socket';
for (const k of ['nftables', 'nftables_priority', 'nftables_ifindex', 'nftables_ipvs', 'nftables_ipvs_priority', 'nftables_ipvs_start_fwmark', 'nftables_counters', 'vrrp_iptables', 'vrrp_ipsets']) unsupportedGlobal[k] = 'firewall integration';
for (const p of ['vrrp', 'checker', 'bfd']) {
  for (const k of ['priority', 'no_swap', 'rt_priority', 'cpu_affinity', 'rlimit_rttime', 'rlimit_rtime']) unsupportedGlobal[`${p}_${k}`] = 'process scheduling: ipvsd is one process';
}
for (const k of ['process_names', 'process_name', 'vrrp_process_name', 'checker_process_name', 'lvs_process_name', 'bfd_process_name', 'max_auto_priority', 'min_auto_priority_delay', 'umask', 'random_seed', 'config_save_dir', 'tmp_config_directory', 'data_use_instance', 'reload_time_file', 'reload_repeat', 'reload_file', 'include_check']) unsupportedGlobal[k] = 'process control';
for (const k of ['vrrp_netlink_cmd_rcv_bufs', 'vrrp_netlink_cmd_rcv_bufs_force', 'vrrp_netlink_monitor_rcv_bufs', 'vrrp_netlink_monitor_rcv_bufs_force', 'process_monitor_rcv_bufs', 'process_monitor_rcv_bufs_force', 'lvs_netlink_cmd_rcv_bufs', 'lvs_netlink_cmd_rcv_bufs_force', 'lvs_netlink_monitor_rcv_bufs', 'lvs_netlink_monitor_rcv_bufs_force', 'vrrp_rx_bufs_policy', 'vrrp_rx_bufs_multiplier']) unsupportedGlobal[k] = 'netlink buffer tuning';
for (const k of ['startup_script', 'startup_script_timeout', 'shutdown_script', 'shutdown_script_timeout']) unsupportedGlobal[k] = 'startup and shutdown scripts';
for (const k of ['vrrp_garp_extra_if', 'vrrp_vmac_garp_intvl', 'vmac_prefix', 'vmac_addr_prefix', 'disable_local_igmp', 'default_interface', 'log_unknown_vrids', 'fifo_write_vrrp_states_on_reload', 'no_email_faults', 'linkbeat_use_polling', 'net_namespace', 'net_namespace_ipvs', 'namespace_with_ipsets']) unsupportedGlobal[k] = 'not implemented';

const globalKeywords: Keyword<Draft>[] = [
  text('router_id', (d, v) => (d.routerId = v)),
  {
    name: 'notification_email',
    shape: 'block',
    handle: (d, st) => {
      for (const child of st.children!) d.defs.notificationEmail.push(child.keyword.text, ...child.args.map((a) => a.text));
    },
  },
  text('notification_email_from', (d, v) => (d.notificationEmailFrom = v)),
  {
    name: 'smtp_server',
    handle: (d, st, cx) => {
      if (!arity(st, cx, 1, 2)) return;
      const a = address(st.args[0]!, cx, 'smtp_server');
      const p = st.args[1] ? port(st.args[1], cx) : 25;
      if (a && p !== undefined) d.defs.smtpServer = { ...a, port: p };
    },
  },
  text('smtp_helo_name', (d, v) => (d.smtpHeloName = v)),
  {
    name: 'smtp_connect_timeout',
    handle: (d, st, cx) => {
      if (!arity(st, cx, 1)) return;
      const s = integer(st.args[0]!, cx, 1, 3600, '`smtp_connect_timeout`');
      if (s !== undefined) d.defs.smtpConnectTimeoutMs = s * 1000;
    },
  },
  flag('smtp_alert', (d, v) => (d.smtpAlert = v)),
  flag('smtp_alert_vrrp', (d, v) => (d.smtpAlertVrrp = v)),
  flag('smtp_alert_checker', (d, v) => (d.smtpAlertChecker = v)),
  flag('checker_log_all_failures', (d, v) => (d.checkerLogAllFailures = v)),
  flag('no_checker_emails', (d, v) => (d.noCheckerEmails = v)),
  flag('rs_init_notifies', (d, v) => (d.rsInitNotifies = v)),
  flag('lvs_flush', (d, v) => (d.lvsFlush = v)),
  {
    name: 'lvs_flush_on_stop',
    aliases: ['lvs_flush_onstop'],
    handle: (d, st, cx) => {
      if (!arity(st, cx, 0, 1)) return;
      const arg = st.args[0];
      if (!arg) d.defs.lvsFlushOnStop = 'flush';
      else if (arg.text === 'VS') d.defs.lvsFlushOnStop = 'vs';
      else cx.error(arg, `\`lvs_flush_on_stop\` takes nothing or \`VS\`, not \`${arg.text}\``);
    },
  },
  { name: 'lvs_timeouts', handle: (d, st, cx) => parseTimeouts(d.defs, st, cx) },
  {
    name: 'lvs_sync_daemon',
    handle: (d, st, cx) => {
      const daemon = parseSyncDaemon(st, cx);
      if (daemon) d.defs.lvsSyncDaemon = daemon;
    },
  },
  ...fifo('notify_fifo', 'notifyFifo'),
  ...fifo('vrrp_notify_fifo', 'vrrpNotifyFifo'),
  ...fifo('lvs_notify_fifo', 'lvsNotifyFifo'),
  {
    name: 'script_user',
    handle: (d, st, cx) => {
      if (arity(st, cx, 1, 2)) d.defs.scriptUser = { user: st.args[0]!.text, group: st.args[1]?.text ?? '' };
    },
  },
  flag('enable_script_security', (d, v) => (d.enableScriptSecurity = v)),
  {
    name: 'reload_check_config',
    handle: (d, st, cx) => {
      if (arity(st, cx, 0, 1)) d.defs.reloadCheckConfig = true;
    },
  },
  flag('dynamic_interfaces', (d, v) => (d.dynamicInterfaces = v)),
  vrrpMcastGroup('vrrp_mcast_group4', 'inet', 'IPv4', (d, a) => (d.vrrp.mcastGroup4 = a)),
  vrrpMcastGroup('vrrp_mcast_group6', 'inet6', 'IPv6', (d, a) => (d.vrrp.mcastGroup6 = a)),
  vrrpCount('vrrp_version', 2, 3, (d, n) => (d.vrrp.version = n as 2 | 3)),
  vrrpTimer('vrrp_garp_master_delay', (d, ms) => (d.vrrp.garpMasterDelayMs = ms), 255_000),
  vrrpCount('vrrp_garp_master_repeat', 1, 255, (d, n) => (d.vrrp.garpMasterRepeat = n)),
  vrrpTimer('vrrp_garp_master_refresh', (d, ms) => (d.vrrp.garpMasterRefreshMs = ms)),
  vrrpCount('vrrp_garp_master_refresh_repeat', 1, 255, (d, n) => (d.vrrp.garpMasterRefreshRepeat = n)),
  vrrpTimer('vrrp_garp_lower_prio_delay', (d, ms) => (d.vrrp.garpLowerPrioDelayMs = ms), 255_000),
  vrrpCount('vrrp_garp_lower_prio_repeat', 0, 255, (d, n) => (d.vrrp.garpLowerPrioRepeat = n)),
  vrrpTimer('vrrp_garp_interval', (d, ms) => (d.vrrp.garpIntervalMs = ms), 1000),
  vrrpTimer('vrrp_gna_interval', (d, ms) => (d.vrrp.gnaIntervalMs = ms), 1000),
  flag('vrrp_min_garp', (d, v) => (d.vrrp.minGarp = v)),
  vrrpCount('vrrp_down_timer_adverts', 1, 100, (d, n) => (d.vrrp.downTimerAdverts = n)),
  flag('vrrp_lower_prio_no_advert', (d, v) => (d.vrrp.lowerPrioNoAdvert = v)),
  flag('vrrp_higher_prio_send_advert', (d, v) => (d.vrrp.higherPrioSendAdvert = v)),
  flag('vrrp_check_unicast_src', (d, v) => (d.vrrp.checkUnicastSrc = v)),
  flag('vrrp_skip_check_adv_addr', (d, v) => (d.vrrp.skipCheckAdvAddr = v)),
  flag('vrrp_strict', (d, v) => (d.vrrp.strict = v)),
  vrrpTimer('vrrp_startup_delay', (d, ms) => (d.vrrp.startupDelayMs = ms), 3600_000),
  flag('vrrp_notify_priority_changes', (d, v) => (d.vrrp.notifyPriorityChanges = v)),
];

const globalTable = new KeywordTable<Draft>('global_defs', globalKeywords, unsupportedGlobal);

export function readGlobalDefs(draft: GlobalDefsDraft, st: Statement, cx: ParseContext): void {
  globalTable.apply(draft, st.children ?? [], cx);
}

/** Attaches FIFO scripts to their FIFOs once the whole block (or file) has been read. */
export function finishGlobalDefs(draft: GlobalDefsDraft, cx: ParseContext): GlobalDefs {
  for (const [field, entry] of Object.entries(draft.fifoScripts) as Array<[FifoField, { script: Script; st: Statement }]>) {
    const target: Fifo | undefined = draft.defs[field];
    if (target) target.script = entry.script;
    else cx.warning(entry.st, `\`${entry.st.keyword.text}\` without its FIFO; keepalived ignores it, so does ipvsd`);
  }
  return draft.defs;
}
