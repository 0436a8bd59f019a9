// vrrp_sync_group: instances that must move together (an LVS-NAT director's outside VIP and the
// real servers' inside gateway). A member becomes master only when every member wants to; one
// member yielding to a higher-priority master pulls the others to backup; a tracker fault of any
// member holds the whole group in FAULT (the runtime aggregates that into each member's trackers).
import type { VrrpState } from './instance-state.js';
import type { SyncListener, VirtualRouter } from './instance.js';

export class SyncGroup implements SyncListener {
  private last: VrrpState;

  /** `onChange` hears the group's own transitions (for its notify scripts and FIFO lines). */
  constructor(
    readonly name: string,
    readonly members: readonly VirtualRouter[],
    private readonly onChange: (to: VrrpState | 'stopped', from: VrrpState) => void = () => {},
  ) {
    for (const m of members) m.joinSyncGroup(this);
    // Rebuilt on reload around running members: only a real change is a transition.
    this.last = this.state();
  }

  wantsMaster(): void {
    if (!this.members.every((m) => m.state === 'master' || m.wantsMaster)) return;
    for (const m of this.members) if (m.wantsMaster) m.syncMaster();
  }

  transitioned(router: VirtualRouter, from: VrrpState, to: VrrpState | 'stopped'): void {
    if (from === 'master' && to === 'backup') {
      for (const m of this.members) if (m !== router && (m.state === 'master' || m.wantsMaster)) m.syncBackup();
    }
    const now = this.state();
    if (now === this.last) return;
    const previous = this.last;
    this.last = now;
    this.onChange(now === 'init' ? 'stopped' : now, previous);
  }

  /** The group's state as keepalived reports it: FAULT if any member is, MASTER only if all are. */
  state(): VrrpState {
    const states = this.members.map((m) => m.state);
    if (states.includes('fault')) return 'fault';
    if (states.every((s) => s === 'master')) return 'master';
    if (states.every((s) => s === 'init')) return 'init';
    return 'backup';
  }
}
