// Every script a configuration holds, wherever the model keeps it, with where it was configured,
// and a copy of the configuration with each script replaced or disabled. A disabled notify script
// is dropped, a disabled MISC_CHECK is dropped from its real server, and a disabled vrrp_script
// is dropped with its track_script references, as keepalived disables them.
import type { SourcePosition } from '../config/ast.js';
import type { Checker, Fifo, GlobalDefs, KeepalivedConfig, RealServer, Script, VirtualServer, VrrpNotify } from '../config/model.js';

export interface ScriptPlace {
  /** The keyword that configured it: `notify_up`, `misc_path`, `vrrp_script chk_nginx`, ... */
  keyword: string;
  /** The keyword's own position when the parser kept it, else its block's. */
  pos: SourcePosition;
}

/** A replacement for a script, or undefined to disable it. */
export type ScriptMap = (script: Script, place: ScriptPlace) => Script | undefined;

const notifyKeywords: Record<keyof VrrpNotify, string> = {
  master: 'notify_master',
  backup: 'notify_backup',
  fault: 'notify_fault',
  stop: 'notify_stop',
  deleted: 'notify_deleted',
  any: 'notify',
  masterRxLowerPri: 'notify_master_rx_lower_pri',
};

const fifoKeywords = { notifyFifo: 'notify_fifo_script', vrrpNotifyFifo: 'vrrp_notify_fifo_script', lvsNotifyFifo: 'lvs_notify_fifo_script' } as const;

const place = (keyword: string, script: Script, owner: SourcePosition): ScriptPlace => ({ keyword, pos: script.pos ?? owner });

export function mapScripts(config: KeepalivedConfig, map: ScriptMap): KeepalivedConfig {
  const one = (script: Script | undefined, keyword: string, owner: SourcePosition): Script | undefined =>
    script && map(script, place(keyword, script, owner));
  const notify = (n: VrrpNotify, owner: SourcePosition): VrrpNotify => {
    const out = { ...n };
    for (const k of Object.keys(notifyKeywords) as Array<keyof VrrpNotify>) out[k] = one(n[k], notifyKeywords[k], owner);
    return out;
  };
  // global_defs has no position of its own; its FIFO scripts carry theirs.
  const start: SourcePosition = { file: config.files[0] ?? '', line: 1, column: 1 };
  const fifo = (f: Fifo | undefined, field: keyof typeof fifoKeywords): Fifo | undefined => f && { ...f, script: one(f.script, fifoKeywords[field], start) };
  const globalDefs: GlobalDefs = {
    ...config.globalDefs,
    notifyFifo: fifo(config.globalDefs.notifyFifo, 'notifyFifo'),
    vrrpNotifyFifo: fifo(config.globalDefs.vrrpNotifyFifo, 'vrrpNotifyFifo'),
    lvsNotifyFifo: fifo(config.globalDefs.lvsNotifyFifo, 'lvsNotifyFifo'),
  };
  const vrrpScripts = config.vrrpScripts.flatMap((s) => {
    const script = map(s.script, place(`vrrp_script ${s.name}`, s.script, s.pos));
    return script ? [{ ...s, script }] : [];
  });
  const kept = new Set(vrrpScripts.map((s) => s.name));
  const tracked = <T extends { trackScripts: Array<{ name: string }> }>(x: T): T['trackScripts'] => x.trackScripts.filter((t) => kept.has(t.name) || !config.vrrpScripts.some((s) => s.name === t.name));
  const realServer = (rs: RealServer): RealServer => ({
    ...rs,
    notifyUp: one(rs.notifyUp, 'notify_up', rs.pos),
    notifyDown: one(rs.notifyDown, 'notify_down', rs.pos),
    checkers: rs.checkers.flatMap((c): Checker[] => {
      if (c.type !== 'MISC_CHECK') return [c];
      const script = map(c.script, place('misc_path', c.script, c.pos));
      return script ? [{ ...c, script }] : [];
    }),
  });
  const virtualServer = (vs: VirtualServer): VirtualServer => ({
    ...vs,
    quorumUp: one(vs.quorumUp, 'quorum_up', vs.pos),
    quorumDown: one(vs.quorumDown, 'quorum_down', vs.pos),
    realServers: vs.realServers.map(realServer),
  });
  return {
    ...config,
    globalDefs,
    vrrpScripts,
    vrrpInstances: config.vrrpInstances.map((i) => ({ ...i, notify: notify(i.notify, i.pos), trackScripts: tracked(i) })),
    vrrpSyncGroups: config.vrrpSyncGroups.map((g) => ({ ...g, notify: notify(g.notify, g.pos), trackScripts: tracked(g) })),
    virtualServers: config.virtualServers.map(virtualServer),
  };
}

/** Every script of the configuration with its place (a walk that changes nothing). */
export function configScripts(config: KeepalivedConfig): Array<{ script: Script; place: ScriptPlace }> {
  const found: Array<{ script: Script; place: ScriptPlace }> = [];
  mapScripts(config, (script, where) => {
    found.push({ script, place: where });
    return script;
  });
  return found;
}
