// global_defs `lvs_sync_daemon`: the kernel's IPVS connection-sync daemons. Without `inst` both the
// master and the backup daemon run for the daemon's lifetime; with `inst VI` they follow that VRRP
// instance (master daemon while MASTER, backup daemon otherwise), so the director that takes over
// the VIP already holds the connections the old master had.
import type { KeepalivedConfig, LvsSyncDaemon } from '../config/model.js';
import type { IpvsClient } from '../ipvs/client.js';
import type { SyncDaemon, SyncDaemonState } from '../ipvs/model.js';
import type { NotifyState } from '../vrrp/notify.js';

/** The VRRP state of the followed instance; 'INIT' until it has made its first transition. */
export type FollowedState = NotifyState | 'INIT';

export type SyncDaemonClient = Pick<IpvsClient, 'syncDaemons' | 'startSyncDaemon' | 'stopSyncDaemon'>;

/** Which kernel daemons `lvs_sync_daemon` wants for the followed instance's state (pure). */
export function wantedSyncDaemons(settings: ConnectionSyncSettings, state: FollowedState): SyncDaemon[] {
  const base = { interface: settings.interface, syncId: settings.syncId, maxLength: settings.maxLength, group: settings.group, port: settings.port, ttl: settings.ttl };
  if (settings.instance === undefined) return [{ state: 'master', ...base }, { state: 'backup', ...base }];
  if (state === 'STOP') return [];
  return [{ state: state === 'MASTER' ? 'master' : 'backup', ...base }];
}

export interface ConnectionSyncSettings {
  interface: string;
  instance: string | undefined;
  syncId: number;
  maxLength: number;
  group: string;
  port: number;
  ttl: number;
}

/** The settings of `lvs_sync_daemon`, with `id` defaulted to the followed instance's VRID (or 0); undefined when not configured. */
export function connectionSyncSettings(config: KeepalivedConfig): ConnectionSyncSettings | undefined {
  const d: LvsSyncDaemon | undefined = config.globalDefs.lvsSyncDaemon;
  if (!d) return undefined;
  const followed = d.instance === undefined ? undefined : config.vrrpInstances.find((i) => i.name === d.instance);
  return {
    interface: d.interface,
    instance: d.instance,
    syncId: d.syncId ?? followed?.virtualRouterId ?? 0,
    maxLength: d.maxLength,
    group: d.group,
    port: d.port,
    ttl: d.ttl,
  };
}

// The kernel reports the group and port it chose; what identifies "our" daemon is its role, interface and id.
const sameDaemon = (a: SyncDaemon, b: SyncDaemon): boolean => a.state === b.state && a.interface === b.interface && a.syncId === b.syncId;

export interface ConnectionSyncEvents {
  onStarted?: (daemon: SyncDaemon) => void;
  onStopped?: (state: SyncDaemonState) => void;
  onError?: (err: unknown) => void;
}

/**
 * Keeps the kernel's sync daemons as `wantedSyncDaemons` says. Every change re-reads what the kernel
 * runs and corrects it (a daemon stopped or started behind ipvsd's back is repaired on the next
 * transition); changes run one at a time, in transition order.
 */
export class ConnectionSync {
  private queue: Promise<void> = Promise.resolve();
  private state: FollowedState = 'INIT';
  private stopped = false;

  constructor(
    readonly settings: ConnectionSyncSettings,
    private readonly client: SyncDaemonClient,
    private readonly events: ConnectionSyncEvents = {},
  ) {}

  /** Starts the daemons the initial state wants (the backup daemon alone when following an instance). */
  start(): Promise<void> {
    return this.enqueue();
  }

  /** A VRRP transition of some instance; only the followed one matters. */
  transition(instance: string, state: NotifyState): Promise<void> {
    if (this.stopped || instance !== this.settings.instance) return this.queue;
    this.state = state;
    return this.enqueue();
  }

  /** Stops every daemon this settings block runs; later transitions are ignored. */
  stop(): Promise<void> {
    this.stopped = true;
    this.state = 'STOP';
    return this.enqueue(true);
  }

  /** Resolves when every queued change has been applied. */
  idle(): Promise<void> {
    return this.queue;
  }

  private enqueue(all = false): Promise<void> {
    this.queue = this.queue.then(() => this.apply(all).catch((err: unknown) => this.events.onError?.(err)));
    return this.queue;
  }

  private async apply(all: boolean): Promise<void> {
    const wanted = all ? [] : wantedSyncDaemons(this.settings, this.state);
    const running = await this.client.syncDaemons();
    for (const r of running) {
      // A daemon of a role we want, but with other settings, is restarted with ours.
      const keep = wanted.some((w) => sameDaemon(w, r));
      const ours = r.interface === this.settings.interface && r.syncId === this.settings.syncId;
      if (keep || (!ours && !wanted.some((w) => w.state === r.state))) continue;
      await this.client.stopSyncDaemon(r.state);
      this.events.onStopped?.(r.state);
    }
    for (const w of wanted) {
      if (running.some((r) => sameDaemon(w, r))) continue;
      await this.client.startSyncDaemon(w);
      this.events.onStarted?.(w);
    }
  }
}
