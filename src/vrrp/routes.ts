// An instance's virtual_routes and virtual_rules over rtnetlink: added after the VIPs on becoming
// master, removed before them on leaving it (and at start, so what a crashed run left behind is
// gone), in keepalived's order: routes then rules on the way up, rules then routes on the way down.
import type { RouteEntry, RouteType, RuleAction, RuleEntry } from '../config/model.js';
import { NetlinkError } from '../netlink/errors.js';
import {
  FR_ACT_BLACKHOLE,
  FR_ACT_GOTO,
  FR_ACT_NOP,
  FR_ACT_PROHIBIT,
  FR_ACT_TO_TBL,
  FR_ACT_UNREACHABLE,
  RTN_BLACKHOLE,
  RTN_LOCAL,
  RTN_PROHIBIT,
  RTN_THROW,
  RTN_UNICAST,
  RTN_UNREACHABLE,
  RTNH_F_ONLINK,
} from '../netlink/route-constants.js';
import type { NexthopSpec, RouteAddMode, RouteSpec, RuleSpec } from '../netlink/rtnetlink.js';

/** The part of RouteNetlink this module uses; a fake in tests. */
export interface RouteTable {
  addRoute(spec: RouteSpec, mode: RouteAddMode): Promise<void>;
  removeRoute(spec: RouteSpec): Promise<void>;
  addRule(spec: RuleSpec): Promise<void>;
  removeRule(spec: RuleSpec): Promise<void>;
}

/** One failed add or remove, kept for the log and the status. */
export interface RouteFailure {
  kind: 'route' | 'rule';
  /** The configuration line, as written. */
  line: string;
  operation: 'add' | 'remove';
  message: string;
}

/** The instance's routes and rules, as the VRRP instance drives them. */
export interface RouteActions {
  add(): Promise<RouteFailure[]>;
  remove(): Promise<RouteFailure[]>;
}

export class RouteDeviceError extends Error {
  readonly code = 'EROUTEDEVICE';
}

const routeTypeCode: Record<RouteType, number> = {
  unicast: RTN_UNICAST,
  local: RTN_LOCAL,
  blackhole: RTN_BLACKHOLE,
  unreachable: RTN_UNREACHABLE,
  prohibit: RTN_PROHIBIT,
  throw: RTN_THROW,
};

const ruleActionCode: Record<RuleAction, number> = {
  table: FR_ACT_TO_TBL,
  goto: FR_ACT_GOTO,
  nop: FR_ACT_NOP,
  blackhole: FR_ACT_BLACKHOLE,
  unreachable: FR_ACT_UNREACHABLE,
  prohibit: FR_ACT_PROHIBIT,
};

/** A virtual_routes line as rtnetlink takes it; RouteDeviceError when its device does not exist now. */
export function routeSpec(entry: RouteEntry, ifindexOf: (name: string) => number | undefined): RouteSpec {
  const spec: RouteSpec = {
    family: entry.family,
    destination: entry.address,
    prefixLength: entry.prefixLength,
    table: entry.table,
    protocol: entry.protocol,
    scope: entry.scope,
    type: routeTypeCode[entry.type],
  };
  if (entry.tos !== undefined) spec.tos = entry.tos;
  if (entry.onlink) spec.flags = RTNH_F_ONLINK;
  if (entry.gateway !== undefined) spec.gateway = entry.gateway;
  if (entry.metric !== undefined) spec.metric = entry.metric;
  if (entry.source !== undefined) spec.preferredSource = entry.source;
  if (entry.device !== undefined) spec.ifindex = deviceIndex(entry.device, ifindexOf);
  if (entry.nexthops.length > 0) {
    spec.nexthops = entry.nexthops.map((hop) => {
      const path: NexthopSpec = { weight: hop.weight };
      if (hop.gateway !== undefined) path.gateway = hop.gateway;
      if (hop.device !== undefined) path.ifindex = deviceIndex(hop.device, ifindexOf);
      if (hop.onlink) path.flags = RTNH_F_ONLINK;
      return path;
    });
  }
  return spec;
}

function deviceIndex(device: string, ifindexOf: (name: string) => number | undefined): number {
  const ifindex = ifindexOf(device);
  if (ifindex === undefined) throw new RouteDeviceError(`interface ${device} does not exist`);
  return ifindex;
}

export function ruleSpec(entry: RuleEntry): RuleSpec {
  const spec: RuleSpec = { family: entry.family, action: ruleActionCode[entry.action], preference: entry.preference, protocol: entry.protocol };
  if (entry.from) spec.from = entry.from;
  if (entry.to) spec.to = entry.to;
  if (entry.not) spec.invert = true;
  if (entry.table !== undefined) spec.table = entry.table;
  if (entry.goto !== undefined) spec.goto = entry.goto;
  if (entry.fwmark !== undefined) spec.fwmark = entry.fwmark;
  if (entry.fwmask !== undefined) spec.fwmask = entry.fwmask;
  if (entry.iif !== undefined) spec.iif = entry.iif;
  if (entry.oif !== undefined) spec.oif = entry.oif;
  if (entry.tos !== undefined) spec.tos = entry.tos;
  if (entry.suppressPrefixLength !== undefined) spec.suppressPrefixLength = entry.suppressPrefixLength;
  return spec;
}

// The kernel's answers that mean "already so": a route or rule that is there on add, or gone on remove.
const alreadyPresent = new Set(['EEXIST']);
const alreadyGone = new Set(['ESRCH', 'ENOENT']);

export class VirtualRoutes implements RouteActions {
  readonly failures: RouteFailure[] = [];
  /** Between add() and remove(): the routes and rules should be in the kernel. */
  private held = false;
  // One change at a time, in the order asked: a reload's replace() must not interleave with a transition's add() or remove().
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private routes: readonly RouteEntry[],
    private rules: readonly RuleEntry[],
    private readonly table: RouteTable,
    private readonly ifindexOf: (name: string) => number | undefined,
  ) {}

  /** Routes, then rules (a rule may point at a table the routes fill). Returns the failures. */
  add(): Promise<RouteFailure[]> {
    return this.serially(async () => {
      this.held = true;
      return this.apply('add', this.routes, this.rules);
    });
  }

  /** Rules, then routes; one already gone counts as removed, and so does a route whose device is gone (the kernel took it along). */
  remove(): Promise<RouteFailure[]> {
    return this.serially(async () => {
      this.held = false;
      return this.apply('remove', this.routes, this.rules);
    });
  }

  /** A reload's new lines: while holding, what is no longer configured is removed and what is new added. */
  replace(routes: readonly RouteEntry[], rules: readonly RuleEntry[]): Promise<RouteFailure[]> {
    return this.serially(async () => {
      const [oldRoutes, oldRules] = [this.routes, this.rules];
      this.routes = routes;
      this.rules = rules;
      if (!this.held) return [];
      const key = (e: RouteEntry | RuleEntry) => e.words.join(' ');
      const without = <T extends RouteEntry | RuleEntry>(list: readonly T[], other: readonly T[]) => list.filter((e) => !other.some((o) => key(o) === key(e)));
      return [
        ...(await this.apply('remove', without(oldRoutes, routes), without(oldRules, rules))),
        ...(await this.apply('add', without(routes, oldRoutes), without(rules, oldRules))),
      ];
    });
  }

  private serially(run: () => Promise<RouteFailure[]>): Promise<RouteFailure[]> {
    const next = this.queue.then(run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async apply(operation: 'add' | 'remove', routes: readonly RouteEntry[], rules: readonly RuleEntry[]): Promise<RouteFailure[]> {
    const failed: RouteFailure[] = [];
    if (operation === 'add') {
      for (const entry of routes) {
        await this.attempt(failed, 'route', entry.words, 'add', async () => {
          await this.table.addRoute(routeSpec(entry, this.ifindexOf), entry.mode);
        });
      }
      for (const entry of rules) await this.attempt(failed, 'rule', entry.words, 'add', () => this.table.addRule(ruleSpec(entry)));
      return failed;
    }
    for (const entry of [...rules].reverse()) await this.attempt(failed, 'rule', entry.words, 'remove', () => this.table.removeRule(ruleSpec(entry)));
    for (const entry of [...routes].reverse()) {
      await this.attempt(failed, 'route', entry.words, 'remove', async () => {
        let spec: RouteSpec;
        try {
          spec = routeSpec(entry, this.ifindexOf);
        } catch (err) {
          if (err instanceof RouteDeviceError) return;
          throw err;
        }
        await this.table.removeRoute(spec);
      });
    }
    return failed;
  }

  private async attempt(failed: RouteFailure[], kind: RouteFailure['kind'], words: readonly string[], operation: RouteFailure['operation'], run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      const done = operation === 'add' ? alreadyPresent : alreadyGone;
      if (err instanceof NetlinkError && done.has(err.code)) return;
      const failure: RouteFailure = { kind, line: words.join(' '), operation, message: (err as Error).message };
      failed.push(failure);
      this.failures.push(failure);
      if (this.failures.length > 20) this.failures.shift(); // the recent ones are what an operator needs
    }
  }
}
