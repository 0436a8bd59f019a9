// The typed keepalived.conf model, with every default filled in as keepalived applies it.
// Timers are milliseconds, addresses are normalized strings with their family, and nothing
// downstream re-parses a string. Plain objects and arrays only, so it serialises to JSON.
import type { SourcePosition } from './ast.js';
import type { AddressFamily, Protocol, TunnelChecksum, TunnelType } from '../ipvs/model.js';

export interface Address {
  address: string;
  family: AddressFamily;
}

export interface Endpoint extends Address {
  port: number;
}

/** A command line for a script, split as keepalived splits it, and who runs it. */
export interface Script {
  argv: string[];
  /** Empty when the global script_user (or root) applies; the daemon fills it in at load. */
  user: string;
  group: string;
  /** Where the script's keyword is, for diagnostics; absent where only its block's position is known. */
  pos?: SourcePosition;
}

export type LvsMethod = 'NAT' | 'DR' | 'TUN';

export interface ForwardingMethod {
  method: LvsMethod;
  /** Meaningful for TUN only. */
  tunnelType: TunnelType;
  tunnelPort: number;
  tunnelChecksum: TunnelChecksum;
}

export interface GlobalDefs {
  /** Empty = the host name, as keepalived does at run time. */
  routerId: string;
  notificationEmail: string[];
  /** Empty = keepalived@<host name>. */
  notificationEmailFrom: string;
  smtpServer: Endpoint | undefined;
  /** Empty = the host name. */
  smtpHeloName: string;
  smtpConnectTimeoutMs: number;
  /** Global smtp_alert default; undefined when not set (each section then uses its own default). */
  smtpAlert: boolean | undefined;
  smtpAlertVrrp: boolean | undefined;
  smtpAlertChecker: boolean | undefined;
  checkerLogAllFailures: boolean;
  noCheckerEmails: boolean;
  rsInitNotifies: boolean;
  lvsFlush: boolean;
  /** What to do with the table on stop: delete each service's servers ('default'), flush everything, or delete services only. */
  lvsFlushOnStop: 'default' | 'flush' | 'vs';
  /** IPVS connection timeouts in seconds; 0 = leave the kernel's value. */
  lvsTimeouts: { tcp: number; tcpFin: number; udp: number };
  lvsSyncDaemon: LvsSyncDaemon | undefined;
  notifyFifo: Fifo | undefined;
  vrrpNotifyFifo: Fifo | undefined;
  lvsNotifyFifo: Fifo | undefined;
  scriptUser: { user: string; group: string } | undefined;
  enableScriptSecurity: boolean;
  reloadCheckConfig: boolean;
  dynamicInterfaces: boolean;
  vrrp: VrrpDefaults;
}

export interface Fifo {
  path: string;
  script: Script | undefined;
}

export interface LvsSyncDaemon {
  interface: string;
  /** The VRRP instance whose state the daemon follows; undefined = both daemons always run. */
  instance: string | undefined;
  /** undefined = the instance's VRID, or 0. */
  syncId: number | undefined;
  maxLength: number;
  port: number;
  ttl: number;
  group: string;
}

/** Global VRRP settings that every instance starts from. */
export interface VrrpDefaults {
  mcastGroup4: string;
  mcastGroup6: string;
  version: 2 | 3;
  garpMasterDelayMs: number;
  garpMasterRepeat: number;
  garpMasterRefreshMs: number;
  garpMasterRefreshRepeat: number;
  garpLowerPrioDelayMs: number | undefined;
  garpLowerPrioRepeat: number | undefined;
  garpIntervalMs: number;
  gnaIntervalMs: number;
  minGarp: boolean;
  downTimerAdverts: number;
  lowerPrioNoAdvert: boolean;
  higherPrioSendAdvert: boolean;
  checkUnicastSrc: boolean;
  skipCheckAdvAddr: boolean;
  strict: boolean;
  startupDelayMs: number;
  notifyPriorityChanges: boolean;
}

export interface VirtualServerGroup {
  name: string;
  pos: SourcePosition;
  /** Addresses and ranges, in file order; a single address is a range of one. */
  ranges: GroupRange[];
  fwmarks: GroupFwmark[];
}

export interface GroupRange {
  family: AddressFamily;
  /** The first and last address, inclusive; they differ only in the last octet / 16-bit group. */
  first: string;
  last: string;
  port: number;
  pos: SourcePosition;
}

export interface GroupFwmark {
  fwmark: number;
  /** undefined = the virtual server's family. */
  family: AddressFamily | undefined;
  pos: SourcePosition;
}

export type VirtualServerTarget =
  | { kind: 'address'; address: string; family: AddressFamily; port: number }
  | { kind: 'fwmark'; fwmark: number }
  | { kind: 'group'; name: string };

export interface VirtualServer {
  pos: SourcePosition;
  target: VirtualServerTarget;
  family: AddressFamily;
  /** undefined for fwmark services (keepalived ignores the protocol for them). */
  protocol: Protocol | undefined;
  scheduler: string;
  schedulerFlags: { flag1: boolean; flag2: boolean; flag3: boolean };
  onePacket: boolean;
  forwarding: ForwardingMethod;
  /** Seconds; 0 = not persistent. */
  persistenceTimeout: number;
  /** Prefix length: 32/128 means per client address. */
  persistenceGranularity: number;
  persistenceEngine: string;
  haSuspend: boolean;
  virtualhost: string | undefined;
  smtpAlert: boolean;
  alpha: boolean;
  omega: boolean;
  inhibitOnFailure: boolean;
  quorum: number;
  hysteresis: number;
  quorumUp: Script | undefined;
  quorumDown: Script | undefined;
  /** Check settings the real servers inherit (already applied to every checker). */
  delayLoopMs: number;
  connectTimeoutMs: number;
  /** The weight a real server gets when it does not say. */
  weight: number;
  sorryServer: SorryServer | undefined;
  realServers: RealServer[];
}

export interface SorryServer extends Endpoint {
  pos: SourcePosition;
  forwarding: ForwardingMethod;
  /** Kept in the table with weight 0 while unused. */
  inhibit: boolean;
}

export interface RealServer extends Endpoint {
  pos: SourcePosition;
  weight: number;
  forwarding: ForwardingMethod;
  upperThreshold: number;
  lowerThreshold: number;
  inhibitOnFailure: boolean;
  alpha: boolean;
  smtpAlert: boolean;
  notifyUp: Script | undefined;
  notifyDown: Script | undefined;
  /** Every checker must be up for the server to be up; none = always up. */
  checkers: Checker[];
}

/** Timing and retry settings, resolved through checker -> real server -> virtual server -> default. */
export interface CheckTiming {
  delayLoopMs: number;
  connectTimeoutMs: number;
  retry: number;
  delayBeforeRetryMs: number;
  /** Upper bound of the random delay before the first check. */
  warmupMs: number;
  alpha: boolean;
  logAllFailures: boolean;
  /** ipvsd extension: consecutive successes that bring a down checker up (HAProxy's rise). */
  rise?: number | undefined;
  /** ipvsd extension: consecutive failures that take an up checker down; replaces `retry`. */
  fall?: number | undefined;
  /** ipvsd extension: a refused connection or reset takes the checker down at once. */
  fastFail?: boolean | undefined;
}

/** Where a connection-based checker connects from and to. */
export interface CheckConnection {
  connectIp: Address;
  connectPort: number;
  bindTo: Address | undefined;
  bindPort: number;
  bindInterface: string | undefined;
  /** SO_MARK on the check socket; 0 = none. */
  fwmark: number;
}

export interface CheckerBase extends CheckTiming {
  pos: SourcePosition;
}

export interface TcpCheck extends CheckerBase, CheckConnection {
  type: 'TCP_CHECK';
}

export interface HttpUrl {
  path: string;
  /** Lower-case MD5 hex, or undefined. */
  digest: string | undefined;
  /** Accepted status ranges, inclusive; default 200-299. */
  statusCodes: Array<{ from: number; to: number }>;
  virtualhost: string | undefined;
  regex: string | undefined;
  regexNoMatch: boolean;
  regexOptions: string[];
  regexMinOffset: number;
  regexMaxOffset: number;
}

export interface HttpCheck extends CheckerBase, CheckConnection {
  type: 'HTTP_GET' | 'SSL_GET';
  httpProtocol: '1.0' | '1.0C' | '1.1';
  virtualhost: string | undefined;
  enableSni: boolean;
  fastRecovery: boolean;
  urls: HttpUrl[];
  /** ipvsd extension (`http_method`): the request method, upper case; absent = GET. */
  method?: string | undefined;
  /** ipvsd extension (`http_header`): extra request headers, in file order. */
  requestHeaders?: HttpHeader[] | undefined;
  /** ipvsd extension (`expect_header`): response headers every url's answer must carry. */
  expectHeaders?: ExpectedHttpHeader[] | undefined;
  /** ipvsd extension (`verify_certificate`, SSL_GET): verify the certificate and its name. */
  verifyCertificate?: boolean | undefined;
  /** ipvsd extension (`ca_file`): absolute path of PEM CA certificates replacing the system store. */
  caFile?: string | undefined;
  /** SSL_GET only: the top-level `SSL` block, copied to every SSL_GET checker so its probe needs nothing else. */
  sslClient?: SslClient | undefined;
}

/**
 * keepalived's top-level `SSL` block: the one TLS context of every SSL_GET check. Paths are absolute
 * (relative ones are resolved against the file naming them) and were read and checked at load.
 */
export interface SslClient {
  pos: SourcePosition;
  /**
   * `ca`: PEM CA certificates, the store of keepalived's context. keepalived never verifies the server,
   * so they only complete the client chain; under `verify_certificate` they are trusted too (with `ca_file`).
   */
  caFile: string | undefined;
  /** `certificate`: the PEM client certificate, optionally followed by its chain. */
  certificateFile: string | undefined;
  /** `key`: the certificate's PEM private key. */
  keyFile: string | undefined;
  /** `password`: decrypts the key. */
  password: string | undefined;
}

export interface HttpHeader {
  name: string;
  value: string;
}

export interface ExpectedHttpHeader {
  name: string;
  /** undefined = the header only has to be present. */
  value: string | undefined;
}

export interface PingCheck extends CheckerBase, CheckConnection {
  type: 'PING_CHECK';
}

export interface UdpCheck extends CheckerBase, CheckConnection {
  type: 'UDP_CHECK';
  /** Hex bytes; undefined = random payload. */
  payload: string | undefined;
  /** Hex with X wildcard nibbles; undefined = success unless an ICMP error arrives. */
  requireReply: string | undefined;
  minReplyLength: number;
  maxReplyLength: number;
}

export type DnsType = 'A' | 'NS' | 'CNAME' | 'SOA' | 'MX' | 'TXT' | 'AAAA' | 'RRSIG' | 'DNSKEY';

export interface DnsCheck extends CheckerBase, CheckConnection {
  type: 'DNS_CHECK';
  queryType: DnsType;
  name: string;
}

export interface SmtpCheck extends CheckerBase, CheckConnection {
  type: 'SMTP_CHECK';
  heloName: string;
}

export interface MiscCheck extends CheckerBase {
  type: 'MISC_CHECK';
  script: Script;
  timeoutMs: number;
  dynamic: boolean;
}

export interface FileCheck {
  type: 'FILE_CHECK';
  pos: SourcePosition;
  trackFile: string;
  weight: number;
  reverse: boolean;
}

export type Checker = TcpCheck | HttpCheck | PingCheck | UdpCheck | DnsCheck | SmtpCheck | MiscCheck | FileCheck;
export type CheckerType = Checker['type'];

/** A top-level `track_file` (or `vrrp_track_file`) block. */
export interface TrackFile {
  name: string;
  pos: SourcePosition;
  file: string;
  weight: number;
  reverse: boolean;
  initFile: { value: number; overwrite: boolean } | undefined;
}

export interface VrrpScript {
  name: string;
  pos: SourcePosition;
  script: Script;
  intervalMs: number;
  timeoutMs: number;
  weight: number;
  /** A positive weight is added while OK; `reverse` flips the sign. */
  weightReverse: boolean;
  rise: number;
  fall: number;
  initFail: boolean;
}

/** How a vrrp_track_process compares the arguments after the command (keepalived's param_match). */
export type ProcessParamMatch = 'none' | 'exact' | 'initial' | 'partial';

/** A top-level `vrrp_track_process` block: how many matching processes make it OK. */
export interface VrrpTrackProcess {
  name: string;
  pos: SourcePosition;
  /** The process name (/proc/PID/comm), or argv[0] with fullCommand. */
  process: string;
  params: string[];
  paramMatch: ProcessParamMatch;
  fullCommand: boolean;
  weight: number;
  reverse: boolean;
  quorum: number;
  /** undefined = no maximum. */
  quorumMax: number | undefined;
  forkDelayMs: number;
  terminateDelayMs: number;
}

export type VrrpState = 'MASTER' | 'BACKUP';

export interface TrackedInterface {
  name: string;
  weight: number;
  reverse: boolean;
}

export interface TrackedScript {
  name: string;
  /** undefined = the script's own weight. */
  weight: number | undefined;
  reverse: boolean;
}

export interface TrackedFile {
  name: string;
  weight: number | undefined;
  reverse: boolean;
}

export interface TrackedProcess {
  name: string;
  /** undefined = the vrrp_track_process's own weight. */
  weight: number | undefined;
  reverse: boolean;
}

/** An `ip addr`-style entry of virtual_ipaddress / static_ipaddress. */
export interface IpAddressEntry extends Address {
  prefixLength: number;
  device: string | undefined;
  broadcast: string | undefined;
  scope: string | undefined;
  label: string | undefined;
  peer: string | undefined;
  options: string[];
  pos: SourcePosition;
}

/** One path of a multipath route (`nexthop via ADDR dev IF weight N onlink`). */
export interface RouteNexthop {
  gateway: string | undefined;
  device: string | undefined;
  /** 1..256, default 1. */
  weight: number;
  onlink: boolean;
}

/** A route's kind, as `ip route` names it. */
export type RouteType = 'unicast' | 'local' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw';

/** A virtual_routes line, as `ip route` reads it, with keepalived's defaults filled in. */
export interface RouteEntry {
  /** As written: `default` or ADDRESS[/LEN]. */
  destination: string;
  family: AddressFamily;
  /** The destination network (`default`: the zero address with length 0). */
  address: string;
  prefixLength: number;
  type: RouteType;
  gateway: string | undefined;
  device: string | undefined;
  /** `src`: the preferred source address. */
  source: string | undefined;
  /** main (254), or local (255) for a `local` route. */
  table: number;
  metric: number | undefined;
  /**
   * host (254) for a `local` route (the kernel refuses a wider scope there; keepalived 2.2.7 sends global and
   * fails), else global (0): keepalived does not make a device route link-scoped as `ip route` does.
   */
  scope: number;
  /** keepalived (18) unless written, as keepalived marks its routes. */
  protocol: number;
  tos: number | undefined;
  onlink: boolean;
  /** A multipath route's paths (`nexthop ...`, or the deprecated `via A or B`); empty for a single path. */
  nexthops: RouteNexthop[];
  /** keepalived's `prepend` (the default), `add` (fails if a matching route exists) or `append`. */
  mode: 'prepend' | 'add' | 'append';
  /** The line as written, for messages. */
  words: string[];
  pos: SourcePosition;
}

export interface Prefix {
  address: string;
  prefixLength: number;
}

export type RuleAction = 'table' | 'goto' | 'nop' | 'blackhole' | 'unreachable' | 'prohibit';

/** A virtual_rules line, as `ip rule` reads it, with keepalived's defaults filled in. */
export interface RuleEntry {
  family: AddressFamily;
  /** undefined: from all / to all. */
  from: Prefix | undefined;
  to: Prefix | undefined;
  /** `not`: the rule applies to what the selectors do not match. */
  not: boolean;
  action: RuleAction;
  /** For `table` (alias `lookup`). */
  table: number | undefined;
  /** For `goto`: the preference to continue at. */
  goto: number | undefined;
  /** As written, or assigned as keepalived does (16384 down, per family) with a warning. */
  preference: number;
  fwmark: number | undefined;
  fwmask: number | undefined;
  iif: string | undefined;
  oif: string | undefined;
  tos: number | undefined;
  suppressPrefixLength: number | undefined;
  /** keepalived (18) unless written. */
  protocol: number;
  words: string[];
  pos: SourcePosition;
}

export interface UnicastPeer extends Address {
  minTtl: number;
  maxTtl: number;
}

export interface VrrpAuthentication {
  type: 'PASS' | 'AH';
  /** At most 8 bytes; keepalived truncates longer ones. */
  password: string;
}

export interface VrrpNotify {
  master: Script | undefined;
  backup: Script | undefined;
  fault: Script | undefined;
  stop: Script | undefined;
  deleted: Script | undefined;
  /** Called with `INSTANCE|GROUP name STATE priority` appended. */
  any: Script | undefined;
  masterRxLowerPri: Script | undefined;
}

export interface VrrpInstance {
  name: string;
  pos: SourcePosition;
  state: VrrpState;
  interface: string;
  virtualRouterId: number;
  priority: number;
  advertIntMs: number;
  version: 2 | 3;
  family: AddressFamily;
  nopreempt: boolean;
  preemptDelayMs: number;
  authentication: VrrpAuthentication | undefined;
  mcastSrcIp: Address | undefined;
  mcastDstIp: Address | undefined;
  unicastSrcIp: Address | undefined;
  unicastPeers: UnicastPeer[];
  unicastTtl: number;
  dontTrackPrimary: boolean;
  trackInterfaces: TrackedInterface[];
  trackScripts: TrackedScript[];
  trackFiles: TrackedFile[];
  trackProcesses: TrackedProcess[];
  virtualIpAddresses: IpAddressEntry[];
  virtualIpAddressesExcluded: IpAddressEntry[];
  virtualRoutes: RouteEntry[];
  virtualRules: RuleEntry[];
  accept: boolean;
  promoteSecondaries: boolean;
  skipCheckAdvAddr: boolean;
  strict: boolean;
  lowerPrioNoAdvert: boolean;
  higherPrioSendAdvert: boolean;
  garpMasterDelayMs: number;
  garpMasterRepeat: number;
  garpMasterRefreshMs: number;
  garpMasterRefreshRepeat: number;
  garpLowerPrioDelayMs: number;
  garpLowerPrioRepeat: number;
  downTimerAdverts: number;
  smtpAlert: boolean;
  notify: VrrpNotify;
}

export interface VrrpSyncGroup {
  name: string;
  pos: SourcePosition;
  instances: string[];
  trackInterfaces: TrackedInterface[];
  trackScripts: TrackedScript[];
  trackFiles: TrackedFile[];
  trackProcesses: TrackedProcess[];
  notify: VrrpNotify;
  smtpAlert: boolean;
  syncGroupTrackingWeight: boolean;
}

export interface KeepalivedConfig {
  /** Every file read, the main one first. */
  files: string[];
  globalDefs: GlobalDefs;
  staticIpAddresses: IpAddressEntry[];
  /** static_routes: added at start whatever the VRRP state, removed at stop. */
  staticRoutes: RouteEntry[];
  staticRules: RuleEntry[];
  trackFiles: TrackFile[];
  vrrpScripts: VrrpScript[];
  vrrpTrackProcesses: VrrpTrackProcess[];
  vrrpInstances: VrrpInstance[];
  vrrpSyncGroups: VrrpSyncGroup[];
  virtualServerGroups: VirtualServerGroup[];
  virtualServers: VirtualServer[];
}
