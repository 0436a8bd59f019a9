// keepalived's validation pass over virtual servers (validate_check_config), applied with the
// same results, except that every auto-correction keepalived makes silently is a warning here.
import { finishChecker } from './checkers.js';
import { granularity } from './lvs-values.js';
import type { ForwardingMethod, GlobalDefs, RealServer, SorryServer, VirtualServer, VirtualServerGroup } from './model.js';
import type { ParseContext } from './values.js';
import type { RealServerDraft, VirtualServerDraft } from './virtual-server.js';
import { hostPort, type AddressFamily } from '../ipvs/model.js';

const defaultDelayLoopMs = 60_000;
const defaultConnectTimeoutMs = 5_000;
const nat: ForwardingMethod = { method: 'NAT', tunnelType: 'ipip', tunnelPort: 0, tunnelChecksum: 'nocsum' };

function describe(vs: VirtualServerDraft): string {
  const t = vs.target;
  if (t.kind === 'fwmark') return `fwmark ${t.fwmark}`;
  if (t.kind === 'group') return `group ${t.name}`;
  return hostPort(t.address, t.port);
}

function familyOf(vs: VirtualServerDraft, group: VirtualServerGroup | undefined): AddressFamily {
  if (vs.target.kind === 'address') return vs.target.family;
  if (group?.ranges[0]) return group.ranges[0].family;
  if (vs.ipFamily) return vs.ipFamily;
  const direct = vs.realServers.find((rs) => (rs.forwarding ?? vs.forwarding)?.method !== 'TUN');
  return direct?.family ?? vs.realServers[0]?.family ?? 'inet';
}

export function finishVirtualServers(
  drafts: readonly VirtualServerDraft[],
  groups: ReadonlyMap<string, VirtualServerGroup>,
  globals: GlobalDefs,
  cx: ParseContext,
): VirtualServer[] {
  const out: VirtualServer[] = [];
  for (const vs of drafts) {
    const done = finishOne(vs, groups, globals, cx);
    if (done) out.push(done);
  }
  return out;
}

function finishOne(
  vs: VirtualServerDraft,
  groups: ReadonlyMap<string, VirtualServerGroup>,
  globals: GlobalDefs,
  cx: ParseContext,
): VirtualServer | undefined {
  const name = describe(vs);
  const group = vs.target.kind === 'group' ? groups.get(vs.target.name) : undefined;
  if (vs.target.kind === 'group' && !group) {
    cx.error(vs.st.args[1]!, `no \`virtual_server_group ${vs.target.name}\` is defined`);
    return undefined;
  }
  if (group && group.ranges.length === 0 && group.fwmarks.length === 0) {
    cx.warning(vs.st, `virtual_server_group ${group.name} is empty; keepalived programs nothing for ${name}`);
  }
  const family = familyOf(vs, group);

  // The real servers first: a duplicate or a wrong family goes before anything counts them.
  const kept: RealServerDraft[] = [];
  const seen = new Set<string>();
  for (const rs of vs.realServers) {
    const key = hostPort(rs.address, rs.port);
    if (seen.has(key)) {
      cx.warning(rs.st, `real server ${hostPort(rs.address, rs.port)} is a duplicate in ${name}; keepalived removes the second one, so does ipvsd`);
      continue;
    }
    const method = (rs.forwarding ?? vs.forwarding)?.method;
    if (rs.family !== family && method !== 'TUN') {
      // keepalived 2.2.7 accepts it, and then the kernel refuses the destination at run time.
      cx.error(rs.st, `real server ${rs.address} is not in the address family of ${name}; only TUN can forward across families`);
      continue;
    }
    seen.add(key);
    kept.push(rs);
  }
  if (kept.length === 0) {
    cx.warning(vs.st, `virtual server ${name} has no real servers; keepalived ignores it, so does ipvsd`);
    return undefined;
  }

  const isFwmark = vs.target.kind === 'fwmark' || (group !== undefined && group.ranges.length === 0 && group.fwmarks.length > 0);
  const hasAddresses = vs.target.kind === 'address' || (group !== undefined && group.ranges.length > 0);
  let haSuspend = vs.haSuspend;
  if (haSuspend && (vs.target.kind === 'fwmark' || (group?.fwmarks.length ?? 0) > 0)) {
    cx.warning(vs.st, `${name}: \`ha_suspend\` cannot be used with fwmarks; keepalived clears it, so does ipvsd`);
    haSuspend = false;
  }

  let persistenceTimeout = vs.persistenceTimeout ?? 0;
  let netmask = family === 'inet' ? 32 : 128;
  if (vs.granularity) {
    const prefix = granularity(vs.granularity, family, cx);
    if (persistenceTimeout === 0) persistenceTimeout = 360;
    if (group && prefix !== undefined) {
      // keepalived resets the netmask for every service it creates from a group entry.
      cx.warning(vs.granularity, `${name}: keepalived ignores \`persistence_granularity\` for virtual_server_group services (they get a per-client netmask), so does ipvsd`);
    } else if (prefix !== undefined) {
      netmask = prefix;
    }
  }

  let protocol = vs.protocol;
  let onePacket = vs.onePacket;
  if (hasAddresses) {
    if (!protocol) {
      cx.warning(vs.st, `virtual server ${name} has no \`protocol\`; keepalived defaults to UDP, so does ipvsd (add \`protocol UDP\` or \`protocol TCP\`)`);
      protocol = 'udp';
    }
    if (onePacket && protocol !== 'udp') {
      cx.warning(vs.st, `${name}: \`ops\` (one-packet scheduling) needs UDP; keepalived turns it off, so does ipvsd`);
      onePacket = false;
    }
    const zeroPort = vs.target.kind === 'address' ? vs.target.port === 0 : group!.ranges.some((r) => r.port === 0);
    if (persistenceTimeout === 0 && zeroPort) {
      cx.warning(vs.st, `${name}: port 0 is valid only for persistent services; keepalived sets \`persistence_timeout 360\`, so does ipvsd`);
      persistenceTimeout = 360;
    }
  }
  if (isFwmark && protocol) {
    cx.warning(vs.st, `${name}: \`protocol\` is ignored for fwmark services (keepalived ignores it too)`);
    protocol = undefined;
  }
  if (!vs.scheduler) {
    cx.warning(vs.st, `virtual server ${name} has no \`lvs_sched\`; keepalived uses wlc, so does ipvsd`);
  }
  let forwarding = vs.forwarding;
  const defaultForwarding = (): ForwardingMethod => {
    if (!forwarding) {
      cx.warning(vs.st, `virtual server ${name} has no \`lvs_method\`; keepalived uses NAT, so does ipvsd`);
      forwarding = nat;
    }
    return forwarding;
  };

  const smtpAlert = vs.smtpAlert ?? globals.smtpAlertChecker ?? globals.smtpAlert ?? false;
  const vsDelayLoopMs = vs.timing.delayLoopMs ?? defaultDelayLoopMs;
  const vsConnectTimeoutMs = vs.timing.connectTimeoutMs ?? defaultConnectTimeoutMs;
  const vsPort = vs.target.kind === 'address' ? vs.target.port : 0;
  let weightSum = 0;
  const realServers: RealServer[] = kept.map((rs) => {
    const fwd = rs.forwarding ?? defaultForwarding();
    const weight = rs.weight ?? vs.weight ?? 1;
    weightSum += weight;
    const port = fixedPort(rs, fwd, `real server ${hostPort(rs.address, rs.port)}`);
    const alpha = rs.timing.alpha ?? vs.timing.alpha ?? false;
    const timing = {
      delayLoopMs: rs.timing.delayLoopMs ?? vsDelayLoopMs,
      connectTimeoutMs: rs.timing.connectTimeoutMs ?? vsConnectTimeoutMs,
      alpha,
      ...optional('retry', rs.timing.retry ?? vs.timing.retry),
      ...optional('delayBeforeRetryMs', rs.timing.delayBeforeRetryMs ?? vs.timing.delayBeforeRetryMs),
      ...optional('warmupMs', rs.timing.warmupMs ?? vs.timing.warmupMs),
      ...optional('rise', rs.timing.rise ?? vs.timing.rise),
      ...optional('fall', rs.timing.fall ?? vs.timing.fall),
      ...optional('fastFail', rs.timing.fastFail ?? vs.timing.fastFail),
    };
    return {
      pos: rs.st.keyword.pos,
      address: rs.address,
      family: rs.family,
      port,
      weight,
      forwarding: fwd,
      upperThreshold: rs.upperThreshold,
      lowerThreshold: rs.lowerThreshold,
      inhibitOnFailure: rs.inhibitOnFailure ?? vs.inhibitOnFailure ?? false,
      alpha,
      smtpAlert: rs.smtpAlert ?? globals.smtpAlertChecker ?? globals.smtpAlert ?? true,
      notifyUp: rs.notifyUp,
      notifyDown: rs.notifyDown,
      checkers: rs.checkers.map((c) =>
        finishChecker(c, {
          target: { address: rs.address, family: rs.family, port },
          timing,
          vsDelayLoopMs,
          logAllFailures: globals.checkerLogAllFailures,
          virtualhost: rs.virtualhost ?? vs.virtualhost,
        }),
      ),
    };
  });

  // A NAT real server without a port gets the service's; a NAT sorry server keeps port 0.
  function fixedPort(server: { port: number }, fwd: ForwardingMethod, what: string): number {
    if (fwd.method === 'NAT') return vs.target.kind === 'address' && server.port === 0 && what !== 'the sorry server' ? vsPort : server.port;
    if (vs.target.kind === 'fwmark') {
      if (server.port !== 0) cx.warning(vs.st, `fwmark virtual server ${name}: ${what} has a port with ${fwd.method}; keepalived clears it, so does ipvsd`);
      return 0;
    }
    if (vs.target.kind === 'group') {
      if (server.port !== 0 && group!.fwmarks.length > 0) {
        cx.warning(vs.st, `${name}: ${what} has a port with ${fwd.method}; it is ignored for the group's fwmark services`);
      }
      for (const r of group!.ranges) {
        if (server.port !== 0 && server.port !== r.port) {
          cx.warning(vs.st, `${name}: ${what} port ${server.port} differs from the group entry's port ${r.port}; with ${fwd.method} keepalived uses the entry's port`);
        }
      }
      return server.port;
    }
    if (server.port !== 0 && server.port !== vsPort) {
      cx.warning(vs.st, `virtual server ${name} and ${what} ports differ; with ${fwd.method} keepalived resets the port to ${vsPort}, so does ipvsd`);
    }
    return vsPort;
  }

  let sorryServer: SorryServer | undefined;
  if (vs.sorry) {
    const fwd = vs.sorryForwarding ?? defaultForwarding();
    const duplicate = realServers.find((rs) => rs.address === vs.sorry!.address && rs.port === vs.sorry!.port);
    let inhibit = vs.sorryInhibit;
    if (duplicate && duplicate.inhibitOnFailure !== inhibit) {
      cx.warning(vs.sorry.st, `${name}: the sorry server is also a real server with a different inhibit setting; keepalived uses the real server's, so does ipvsd`);
      inhibit = duplicate.inhibitOnFailure;
    }
    sorryServer = {
      pos: vs.sorry.st.keyword.pos,
      address: vs.sorry.address,
      family: vs.sorry.family,
      port: fixedPort(vs.sorry, fwd, 'the sorry server'),
      forwarding: fwd,
      inhibit,
    };
  }

  let quorum = vs.quorum;
  let hysteresis = vs.hysteresis;
  if (quorum > weightSum) {
    cx.warning(vs.st, `${name}: quorum ${quorum} exceeds the total weight of its real servers (${weightSum}); keepalived reduces it to ${weightSum}, so does ipvsd`);
    quorum = weightSum;
  }
  if (hysteresis >= quorum && hysteresis > 0) {
    const clamped = Math.max(0, quorum - 1);
    cx.warning(vs.st, `${name}: hysteresis ${hysteresis} is not below quorum ${quorum}; keepalived sets it to ${clamped}, so does ipvsd`);
    hysteresis = clamped;
  }

  return {
    pos: vs.st.keyword.pos,
    target: vs.target,
    family,
    protocol,
    scheduler: vs.scheduler ?? 'wlc',
    schedulerFlags: vs.flags,
    onePacket,
    // Unset only when every server names its own method; NAT is what keepalived would have used.
    forwarding: forwarding ?? nat,
    persistenceTimeout,
    persistenceGranularity: netmask,
    persistenceEngine: vs.persistenceEngine,
    haSuspend,
    virtualhost: vs.virtualhost,
    smtpAlert,
    alpha: vs.timing.alpha ?? false,
    omega: vs.omega,
    inhibitOnFailure: vs.inhibitOnFailure ?? false,
    quorum,
    hysteresis,
    quorumUp: vs.quorumUp,
    quorumDown: vs.quorumDown,
    delayLoopMs: vsDelayLoopMs,
    connectTimeoutMs: vsConnectTimeoutMs,
    weight: vs.weight ?? 1,
    sorryServer,
    realServers,
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
