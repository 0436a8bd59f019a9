// `ipvsctl status` and `ipvsctl vrrp` for people: aligned tables in the spirit of `ipvsadm -Ln`,
// from the same snapshot `--json` prints.
import type { CheckerStatus, KernelCounters, RealServerStatus, StatusSnapshot, VirtualServerStatus } from '../daemon/status.js';
import { describeOverride } from '../daemon/overrides.js';

/** `45s`, `3m12s`, `2h5m`, `4d3h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** Columns padded to their widest cell; numbers right-aligned. */
function alignTable(rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number> = new Set(), indent = ''): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) => (i === row.length - 1 && !rightAligned.has(i) ? cell : rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
  );
}

function countersLine(k: KernelCounters | undefined, read: boolean): string {
  if (!k) return read ? 'kernel counters: the service was not in the kernel at the last read' : 'kernel counters: not read yet';
  const r = k.rates;
  return `conns ${k.connections}  inpkts ${k.inPackets}  outpkts ${k.outPackets}  inbytes ${k.inBytes}  outbytes ${k.outBytes}  (per second: cps ${r.connections}  inpps ${r.inPackets}  outpps ${r.outPackets}  inBps ${r.inBytes}  outBps ${r.outBytes})`;
}

function checkerLine(c: CheckerStatus, now: number): string {
  const kind = c.id.slice(c.id.lastIndexOf(' ') + 1);
  if (!c.last) return `${kind} ${c.up ? 'up' : 'down'}: not checked yet`;
  const failures = c.consecutiveFailures > 0 ? `, ${c.consecutiveFailures} consecutive failure(s)` : '';
  return `${kind} ${c.up ? 'up' : 'down'}: ${c.last.reason} (${Math.round(c.last.durationMs)} ms, ${formatDuration(now - c.last.at)} ago${failures})`;
}

const serverHeader = ['-> RealServer', 'State', 'Weight', 'Config', 'ActiveConn', 'InActConn', 'Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes', 'Since', 'Override'];
const numeric = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]);

function serverRow(rs: RealServerStatus, now: number): string[] {
  const k = rs.kernel;
  const num = (v: number | undefined) => (v === undefined ? '-' : String(v));
  return [
    `-> ${rs.name}`,
    rs.state,
    rs.effectiveWeight === undefined ? 'out' : String(rs.effectiveWeight),
    String(rs.configuredWeight),
    num(k?.activeConnections),
    num(k?.inactiveConnections),
    num(k?.connections),
    num(k?.inPackets),
    num(k?.outPackets),
    num(k?.inBytes),
    num(k?.outBytes),
    formatDuration(now - rs.since),
    rs.override ? describeOverride(rs.override) : '',
  ];
}

function virtualServerLines(vs: VirtualServerStatus, now: number, kernelRead: boolean): string[] {
  const q = vs.quorum;
  const lines = [
    `${vs.name}  [${vs.services.join(', ')}]  ${vs.scheduler}  ${vs.forwarding}  quorum ${q.up ? 'up' : 'DOWN'} (live weight ${q.liveWeight}, quorum ${q.quorum}, hysteresis ${q.hysteresis})`,
  ];
  if (vs.sorryServer) lines.push(`  sorry server ${vs.sorryServer.name}${vs.sorryServer.active ? ' STANDING IN' : ' (not in use)'}`);
  lines.push(`  ${countersLine(vs.kernel, kernelRead)}`);
  const rows = [serverHeader, ...vs.realServers.map((rs) => serverRow(rs, now))];
  const table = alignTable(rows, numeric, '  ');
  lines.push(table[0]!);
  vs.realServers.forEach((rs, i) => {
    lines.push(table[i + 1]!);
    for (const c of rs.checkers) lines.push(`       ${checkerLine(c, now)}`);
  });
  return lines;
}

export function formatVrrp(s: StatusSnapshot): string {
  if (s.vrrp.instances.length === 0) return 'no VRRP instances configured\n';
  const rows = [['Instance', 'Interface', 'VRID', 'State', 'Priority', 'Base', 'Master', 'LastTransition', 'Fault']];
  for (const i of s.vrrp.instances) {
    const t = i.lastTransition;
    rows.push([
      i.name,
      i.interface,
      String(i.vrid),
      i.state.toUpperCase(),
      String(i.priority),
      String(i.basePriority),
      i.state === 'master' ? 'this node' : i.master ? `${i.master.address} (priority ${i.master.priority})` : '-',
      t ? `${t.from.toUpperCase()} -> ${t.to.toUpperCase()} ${formatDuration(s.now - t.at)} ago` : '-',
      i.faultReasons.join('; '),
    ]);
  }
  const lines = alignTable(rows, new Set([2, 4, 5]));
  for (const g of s.vrrp.syncGroups) lines.push(`sync group ${g.name}: ${g.state.toUpperCase()} (${g.members.join(', ')})`);
  return `${lines.join('\n')}\n`;
}

export function formatStatus(s: StatusSnapshot): string {
  const lines = [`ipvsd ${s.version}, pid ${s.pid}, up ${formatDuration(s.now - s.startedAt)}, log level ${s.logLevel}`];
  lines.push(`config ${s.config.path}, loaded ${formatDuration(s.now - s.config.loadedAt)} ago (reloads: ${s.config.reloads.success} ok, ${s.config.reloads.failure} failed)`);
  const last = s.config.lastReload;
  if (last && !last.ok) {
    lines.push(`LAST RELOAD FAILED ${formatDuration(s.now - last.at)} ago, still running the previous configuration:`);
    for (const e of last.errors) lines.push(`  ${e}`);
  }
  const r = s.reconcile;
  lines.push(
    `kernel counters read ${s.kernelReadAt === undefined ? 'never' : `${formatDuration(s.now - s.kernelReadAt)} ago`}; ` +
      `last reconcile ${r.lastAt === undefined ? 'never' : `${formatDuration(s.now - r.lastAt)} ago in ${Math.round(r.lastDurationMs ?? 0)} ms`}, ${r.errors} error(s) so far`,
  );
  for (const vs of s.virtualServers) lines.push('', ...virtualServerLines(vs, s.now, s.kernelReadAt !== undefined));
  if (s.virtualServers.length === 0) lines.push('', 'no virtual servers configured');
  if (s.vrrp.instances.length > 0) lines.push('', formatVrrp(s).trimEnd());
  return `${lines.join('\n')}\n`;
}
