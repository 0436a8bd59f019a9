// What a reload does to each vrrp_instance, keepalived's way: an instance that is still configured
// keeps its state (new priority, VIPs, trackers and timers are applied in place); one whose wire
// identity changed (interface, VRID, version, family, or becoming / ceasing to be the address owner)
// cannot keep it and is stopped and started again; removed ones stop, new ones start.
import type { KeepalivedConfig, VrrpInstance } from '../config/model.js';
import { OWNER_PRIORITY } from './instance-state.js';

export type InstanceChange = 'unchanged' | 'changed' | 'restart' | 'added' | 'removed';

export interface InstancePlan {
  name: string;
  change: InstanceChange;
  /** For 'restart': what cannot change in place. */
  reason?: string;
}

/** In the new configuration's order, then the removed instances. */
export function planReload(before: KeepalivedConfig, after: KeepalivedConfig): InstancePlan[] {
  const old = new Map(before.vrrpInstances.map((i) => [i.name, i]));
  const plans: InstancePlan[] = after.vrrpInstances.map((inst) => {
    const previous = old.get(inst.name);
    if (!previous) return { name: inst.name, change: 'added' };
    const reason = restartReason(previous, inst);
    if (reason) return { name: inst.name, change: 'restart', reason };
    return { name: inst.name, change: shape(previous) === shape(inst) ? 'unchanged' : 'changed' };
  });
  const kept = new Set(after.vrrpInstances.map((i) => i.name));
  for (const inst of before.vrrpInstances) if (!kept.has(inst.name)) plans.push({ name: inst.name, change: 'removed' });
  return plans;
}

function restartReason(a: VrrpInstance, b: VrrpInstance): string | undefined {
  if (a.interface !== b.interface) return `interface ${a.interface} -> ${b.interface}`;
  if (a.virtualRouterId !== b.virtualRouterId) return `virtual_router_id ${a.virtualRouterId} -> ${b.virtualRouterId}`;
  if (a.version !== b.version) return `version ${a.version} -> ${b.version}`;
  if (a.family !== b.family) return `address family ${a.family} -> ${b.family}`;
  // The owner skips the election at start and ignores trackers: a different machine, not a new number.
  if ((a.priority === OWNER_PRIORITY) !== (b.priority === OWNER_PRIORITY)) return `priority ${a.priority} -> ${b.priority} (address owner)`;
  return undefined;
}

/** An instance without its source positions (they move when other lines do). */
export function shape(value: unknown): string {
  return JSON.stringify(value, (k, v: unknown) => (k === 'pos' ? undefined : v));
}
