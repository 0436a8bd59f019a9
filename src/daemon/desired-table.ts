// The IPVS table the daemon wants now: each virtual server's services laid out from its health
// state's pool decision (which real servers are in, with what weight, and the sorry server),
// with the operator's run-time overrides applied on top.
import type { KeepalivedConfig, VirtualServer } from '../config/model.js';
import { serviceEntries, type PoolDecision } from '../config/plan.js';
import type { VirtualServerState } from '../health/virtual-server-state.js';
import { serviceKey, type ServiceEntry } from '../ipvs/model.js';
import { applyOverrides, type OverrideEntry } from './overrides.js';

/** One virtual server's overrides, keyed by real server name (`10.0.1.1:80`). */
export type VirtualServerOverrides = ReadonlyMap<string, OverrideEntry> | undefined;

function poolDecision(state: VirtualServerState, overrides?: VirtualServerOverrides): PoolDecision {
  const decision = { destinations: state.destinations(), sorryActive: state.sorryActive };
  return applyOverrides(decision, overrides, state.settings.sorryServer);
}

/** The services of one virtual server as its health state and overrides have them now. */
export function virtualServerEntries(
  config: KeepalivedConfig,
  vs: VirtualServer,
  state: VirtualServerState,
  overrides?: VirtualServerOverrides,
): ServiceEntry[] {
  return serviceEntries(vs, config, poolDecision(state, overrides));
}

/** Every virtual server's services, keyed as the kernel identifies them. */
export function desiredTable(
  config: KeepalivedConfig,
  stateOf: (vs: VirtualServer) => VirtualServerState,
  overridesOf: (vs: VirtualServer) => VirtualServerOverrides = () => undefined,
): Map<string, ServiceEntry> {
  const table = new Map<string, ServiceEntry>();
  for (const vs of config.virtualServers) {
    for (const entry of virtualServerEntries(config, vs, stateOf(vs), overridesOf(vs))) table.set(serviceKey(entry.service), entry);
  }
  return table;
}
