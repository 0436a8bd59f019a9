// Entry point: read the dialect, walk the top-level blocks, apply keepalived's validation, and
// return the typed model, or undefined when there is any error, with every diagnostic.
import { Diagnostics, type Diagnostic, type Statement } from './ast.js';
import { checkerTables, type CheckerScope } from './checkers.js';
import { defaultGlobalDefs, finishGlobalDefs, readGlobalDefs, type GlobalDefsDraft } from './global-defs.js';
import { ipAddressBlock, routeBlock, ruleBlock } from './ip-address.js';
import { KeywordTable } from './keywords.js';
import { finishVirtualServers } from './lvs-validate.js';
import type { IpAddressEntry, KeepalivedConfig, RouteEntry, RuleEntry, TrackFile, VirtualServerGroup, VrrpScript, VrrpTrackProcess } from './model.js';
import { readConfig, readConfigText, type ReadOptions } from './reader.js';
import { readServerGroup } from './server-group.js';
import { applySsl, readSsl, type SslBlock } from './ssl.js';
import { ParseContext } from './values.js';
import { virtualServerReader, type VirtualServerDraft, type VirtualServerReader } from './virtual-server.js';
import { finishVrrpInstance, readSyncGroup, readTrackFile, readVrrpInstance, readVrrpScript, readVrrpTrackProcess, type InstanceDraft, type SyncMembership } from './vrrp.js';

export interface LoadResult {
  config: KeepalivedConfig | undefined;
  diagnostics: Diagnostic[];
}

interface TopLevel {
  globals: GlobalDefsDraft;
  staticIpAddresses: IpAddressEntry[];
  staticRoutes: RouteEntry[];
  staticRules: RuleEntry[];
  trackFiles: Map<string, TrackFile>;
  vrrpScripts: Map<string, VrrpScript>;
  trackProcesses: Map<string, VrrpTrackProcess>;
  instances: InstanceDraft[];
  syncGroups: Statement[];
  groups: Map<string, VirtualServerGroup>;
  virtualServers: VirtualServerDraft[];
  readVirtualServer: VirtualServerReader;
  ssl: SslBlock | undefined;
}

function named<T extends { name: string; pos: { file: string; line: number } }>(
  map: Map<string, T>,
  item: T | undefined,
  st: Statement,
  kind: string,
  cx: ParseContext,
): void {
  if (!item) return;
  const earlier = map.get(item.name);
  if (earlier) {
    cx.error(st.args[0] ?? st, `${kind} \`${item.name}\` is already defined at ${earlier.pos.file}:${earlier.pos.line}`);
    return;
  }
  map.set(item.name, item);
}

// keepalived puts a static address written without `dev` on its default interface, eth0 (ipvsd does not read default_interface).
const staticDefaultInterface = 'eth0';

function staticAddresses(st: Statement, cx: ParseContext): IpAddressEntry[] {
  const entries = ipAddressBlock(st, cx);
  for (const entry of entries) {
    if (entry.device !== undefined) continue;
    const line = st.children?.find((c) => c.keyword.pos === entry.pos) ?? st;
    cx.warning(line, `the static address has no \`dev\`; keepalived puts it on ${staticDefaultInterface}, so does ipvsd (give the interface)`);
    entry.device = staticDefaultInterface;
  }
  return entries;
}

const notInIpvsd: Record<string, string> = {
  linkbeat_interfaces: 'link beat polling',
  interface_up_down_delays: 'interface debouncing',
  track_group: 'track groups',
  bfd_instance: 'BFD',
  garp_group: 'GARP groups',
  net_namespace: 'network namespaces',
  net_namespace_ipvs: 'network namespaces',
  namespace_with_ipsets: 'network namespaces',
  instance: 'named instances',
  use_pid_dir: 'pid files',
  child_wait_time: 'child processes',
  linkbeat_use_polling: 'link beat polling',
};

const topLevel = new KeywordTable<TopLevel>(
  'the top level',
  [
    { name: 'global_defs', shape: 'block', handle: (t, st, cx) => readGlobalDefs(t.globals, st, cx) },
    { name: 'static_ipaddress', shape: 'block', handle: (t, st, cx) => t.staticIpAddresses.push(...staticAddresses(st, cx)) },
    { name: 'static_routes', shape: 'block', handle: (t, st, cx) => t.staticRoutes.push(...routeBlock(st, cx)) },
    { name: 'static_rules', shape: 'block', handle: (t, st, cx) => t.staticRules.push(...ruleBlock(st, cx)) },
    { name: 'track_file', deprecated: ['vrrp_track_file'], shape: 'block', handle: (t, st, cx) => named(t.trackFiles, readTrackFile(st, cx), st, 'track_file', cx) },
    { name: 'vrrp_script', shape: 'block', handle: (t, st, cx) => named(t.vrrpScripts, readVrrpScript(st, cx), st, 'vrrp_script', cx) },
    { name: 'vrrp_track_process', shape: 'block', handle: (t, st, cx) => named(t.trackProcesses, readVrrpTrackProcess(st, cx), st, 'vrrp_track_process', cx) },
    {
      name: 'vrrp_instance', shape: 'block',
      handle: (t, st, cx) => {
        const d = readVrrpInstance(st, cx);
        if (!d) return;
        const earlier = t.instances.find((i) => i.name === d.name);
        if (earlier) cx.error(st.args[0]!, `vrrp_instance \`${d.name}\` is already defined at ${earlier.st.keyword.pos.file}:${earlier.st.keyword.pos.line}`);
        else t.instances.push(d);
      },
    },
    {
      name: 'SSL', shape: 'block',
      handle: (t, st, cx) => {
        // keepalived replaces an earlier block, and reports it as a configuration error.
        if (t.ssl) cx.error(st, `SSL is already defined at ${t.ssl.st.keyword.pos.file}:${t.ssl.st.keyword.pos.line}`);
        else t.ssl = { client: readSsl(st, cx), st };
      },
    },
    { name: 'vrrp_sync_group', shape: 'block', handle: (t, st) => t.syncGroups.push(st) },
    { name: 'virtual_server_group', shape: 'block', handle: (t, st, cx) => named(t.groups, readServerGroup(st, cx), st, 'virtual_server_group', cx) },
    {
      name: 'virtual_server', shape: 'block',
      handle: (t, st, cx) => {
        const vs = t.readVirtualServer(st, cx);
        if (vs) t.virtualServers.push(vs);
      },
    },
  ],
  notInIpvsd,
);

function targetKey(vs: VirtualServerDraft): string {
  const t = vs.target;
  if (t.kind === 'fwmark') return `fwmark ${t.fwmark}`;
  if (t.kind === 'group') return `group ${t.name} ${vs.protocol ?? ''}`;
  return `${t.address} ${t.port} ${vs.protocol ?? ''}`;
}

/** Builds the model from statements already read (the pure half of `loadConfig`). */
export function buildConfig(statements: readonly Statement[], files: readonly string[], diagnostics: Diagnostics = new Diagnostics()): LoadResult {
  const cx = new ParseContext(diagnostics);
  const scope: CheckerScope = { trackFiles: new Map() };
  const t: TopLevel = {
    globals: { defs: defaultGlobalDefs(), fifoScripts: {} },
    staticIpAddresses: [],
    staticRoutes: [],
    staticRules: [],
    trackFiles: scope.trackFiles,
    vrrpScripts: new Map(),
    trackProcesses: new Map(),
    instances: [],
    syncGroups: [],
    groups: new Map(),
    virtualServers: [],
    readVirtualServer: virtualServerReader(checkerTables(scope)),
    ssl: undefined,
  };
  topLevel.apply(t, statements, cx);

  const globalDefs = finishGlobalDefs(t.globals, cx);
  const seen = new Map<string, VirtualServerDraft>();
  for (const vs of t.virtualServers) {
    const key = targetKey(vs);
    const earlier = seen.get(key);
    if (earlier) cx.error(vs.st, `this virtual_server is already defined at ${earlier.st.keyword.pos.file}:${earlier.st.keyword.pos.line}`);
    else seen.set(key, vs);
  }
  const finished = finishVirtualServers([...seen.values()], t.groups, globalDefs, cx);
  const virtualServers = t.ssl?.client ? applySsl(finished, t.ssl.client, t.ssl.st, cx) : finished;

  const scripts = new Set(t.vrrpScripts.keys());
  const fileNames = new Set(t.trackFiles.keys());
  const instanceNames = new Set(t.instances.map((i) => i.name));
  const vrrpSyncGroups = t.syncGroups.flatMap((st) => readSyncGroup(st, instanceNames, scripts, fileNames, new Set(t.trackProcesses.keys()), globalDefs, cx) ?? []);
  const membership = new Map<string, SyncMembership>();
  for (const g of vrrpSyncGroups) {
    for (const name of g.instances) {
      const other = membership.get(name);
      if (other) cx.error({ keyword: { text: g.name, pos: g.pos, quoted: false }, args: [], rest: '' }, `vrrp_instance ${name} is already in vrrp_sync_group ${other.group}`);
      else membership.set(name, { group: g.name, trackingWeight: g.syncGroupTrackingWeight });
    }
  }
  const vrrpInstances = t.instances.flatMap((d) => finishVrrpInstance(d, globalDefs, t.vrrpScripts, t.trackFiles, t.trackProcesses, membership.get(d.name), cx) ?? []);
  const vrids = new Map<string, string>();
  for (const vi of vrrpInstances) {
    const key = `${vi.interface} ${vi.family} ${vi.virtualRouterId}`;
    const other = vrids.get(key);
    if (other) cx.error({ keyword: { text: vi.name, pos: vi.pos, quoted: false }, args: [], rest: '' }, `vrrp_instance ${vi.name} uses virtual_router_id ${vi.virtualRouterId} on ${vi.interface}, already used by ${other}`);
    else vrids.set(key, vi.name);
  }
  const daemon = globalDefs.lvsSyncDaemon;
  if (daemon?.instance !== undefined && !instanceNames.has(daemon.instance)) {
    cx.warning(statements.find((s) => s.keyword.text === 'global_defs') ?? statements[0]!, `lvs_sync_daemon names vrrp_instance \`${daemon.instance}\`, which is not defined; the sync daemon will not follow any instance`);
  }

  if (cx.firstScript && !globalDefs.enableScriptSecurity) {
    cx.warning(cx.firstScript, 'scripts are configured but `enable_script_security` is not set in global_defs; keepalived reports this as a security violation');
  }

  const config: KeepalivedConfig = {
    files: [...files],
    globalDefs,
    staticIpAddresses: t.staticIpAddresses,
    staticRoutes: t.staticRoutes,
    staticRules: t.staticRules,
    trackFiles: [...t.trackFiles.values()],
    vrrpScripts: [...t.vrrpScripts.values()],
    vrrpTrackProcesses: [...t.trackProcesses.values()],
    vrrpInstances,
    vrrpSyncGroups,
    virtualServerGroups: [...t.groups.values()],
    virtualServers,
  };
  return { config: diagnostics.hasErrors ? undefined : config, diagnostics: diagnostics.list };
}

function withReadDiagnostics(result: { statements: Statement[]; diagnostics: Diagnostic[]; files: string[] }): LoadResult {
  const diagnostics = new Diagnostics();
  diagnostics.list.push(...result.diagnostics);
  return buildConfig(result.statements, result.files, diagnostics);
}

export function loadConfig(path: string, options: ReadOptions): LoadResult {
  return withReadDiagnostics(readConfig(path, options));
}

export function loadConfigText(text: string, file: string, options: ReadOptions): LoadResult {
  return withReadDiagnostics(readConfigText(text, file, options));
}
