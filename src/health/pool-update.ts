import type { CheckerStep } from './checker-state.js';
import type { ProbeResult } from './probe.js';
import type { RealServerEvent, RealServerState } from './real-server-state.js';
import type { QuorumEvent, VirtualServerState } from './virtual-server-state.js';

export interface PoolUpdate {
  server: RealServerEvent | undefined;
  quorum: QuorumEvent | undefined;
  /** The service's desired destinations may differ now: reconcile. */
  changed: boolean;
}

/**
 * Carries one checker result through its real server and virtual server, in keepalived's
 * order: the dynamic weight first (only a successful run reports one), then liveness, then
 * quorum.
 */
export function applyCheckResult(
  server: RealServerState,
  service: VirtualServerState,
  checkerId: string,
  step: CheckerStep,
  probe: ProbeResult,
): PoolUpdate {
  const before = server.alive ? server.weight : 0;
  const aliveBefore = server.alive;
  const weightChanged = probe.ok && probe.weightAdjust !== undefined && server.setWeightAdjust(checkerId, probe.weightAdjust);
  const event = server.applyChecker(checkerId, step);
  const changed = weightChanged || aliveBefore !== server.alive;
  const after = server.alive ? server.weight : 0;
  return { server: event, quorum: changed ? service.memberChanged(before, after) : undefined, changed };
}
