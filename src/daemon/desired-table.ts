// The IPVS table the daemon wants now: each virtual server's services laid out from its health
// state's pool decision (which real servers are in, with what weight, and the sorry server).
import type { KeepalivedConfig, VirtualServer } from '../config/model.js';
import { serviceEntries, type PoolDecision } from '../config/plan.js';
import type { VirtualServerState } from '../health/virtual-server-state.js';
import { serviceKey, type ServiceEntry } from '../ipvs/model.js';

export function poolDecision(state: VirtualServerState): PoolDecision {
  return { destinations: state.destinations(), sorryActive: state.sorryActive };
}

/** The services of one virtual server as its health state has them now. */
export function virtualServerEntries(config: KeepalivedConfig, vs: VirtualServer, state: VirtualServerState): ServiceEntry[] {
  return serviceEntries(vs, config, poolDecision(state));
}

/** Every virtual server's services, keyed as the kernel identifies them. */
export function desiredTable(
  config: KeepalivedConfig,
  stateOf: (vs: VirtualServer) => VirtualServerState,
): Map<string, ServiceEntry> {
  const table = new Map<string, ServiceEntry>();
  for (const vs of config.virtualServers) {
    for (const entry of virtualServerEntries(config, vs, stateOf(vs))) table.set(serviceKey(entry.service), entry);
  }
  return table;
}
