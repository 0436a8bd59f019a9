import { describe, expect, it } from 'vitest';
import { loadConfigText as load } from '../../src/config/load.js';
import type { KeepalivedConfig } from '../../src/config/model.js';
import { connectionSyncSettings, ConnectionSync, wantedSyncDaemons, type ConnectionSyncSettings, type SyncDaemonClient } from '../../src/daemon/lvs-sync.js';
import type { SyncDaemon, SyncDaemonState } from '../../src/ipvs/model.js';

function loadConfigText(text: string): KeepalivedConfig {
  const { config, diagnostics } = load(text, 'inline.conf', { configId: 'test', env: {} });
  if (!config) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return config;
}

const settings = (instance: string | undefined): ConnectionSyncSettings => ({ interface: 'eth1', instance, syncId: 51, maxLength: 0, group: '224.0.0.81', port: 8848, ttl: 1 });

/** The kernel's one master and one backup slot, and the calls made on it. */
class FakeKernel implements SyncDaemonClient {
  readonly daemons = new Map<SyncDaemonState, SyncDaemon>();
  readonly calls: string[] = [];
  failNext: Error | undefined;

  async syncDaemons(): Promise<SyncDaemon[]> {
    return [...this.daemons.values()].map((d) => ({ ...d, port: 8848, group: '224.0.0.81' }));
  }

  async startSyncDaemon(d: SyncDaemon): Promise<void> {
    this.calls.push(`start ${d.state}`);
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    if (this.daemons.has(d.state)) throw new Error('EEXIST');
    this.daemons.set(d.state, { ...d });
  }

  async stopSyncDaemon(state: SyncDaemonState): Promise<void> {
    this.calls.push(`stop ${state}`);
    if (!this.daemons.delete(state)) throw new Error('ESRCH');
  }

  roles(): string[] {
    return [...this.daemons.keys()].sort();
  }
}

describe('wantedSyncDaemons', () => {
  it('runs both daemons whatever the state when no instance is followed', () => {
    for (const state of ['INIT', 'MASTER', 'BACKUP', 'FAULT', 'STOP'] as const) {
      expect(wantedSyncDaemons(settings(undefined), state).map((d) => d.state)).toEqual(['master', 'backup']);
    }
  });

  it('follows the instance: master daemon when MASTER, backup otherwise, none when stopped', () => {
    const s = settings('VI_1');
    expect(wantedSyncDaemons(s, 'MASTER').map((d) => d.state)).toEqual(['master']);
    expect(wantedSyncDaemons(s, 'BACKUP').map((d) => d.state)).toEqual(['backup']);
    expect(wantedSyncDaemons(s, 'FAULT').map((d) => d.state)).toEqual(['backup']);
    expect(wantedSyncDaemons(s, 'INIT').map((d) => d.state)).toEqual(['backup']);
    expect(wantedSyncDaemons(s, 'STOP')).toEqual([]);
  });

  it('passes the configured settings to the kernel', () => {
    expect(wantedSyncDaemons(settings('VI_1'), 'MASTER')[0]).toEqual({ state: 'master', interface: 'eth1', syncId: 51, maxLength: 0, group: '224.0.0.81', port: 8848, ttl: 1 });
  });
});

describe('connectionSyncSettings', () => {
  it('is undefined without lvs_sync_daemon', () => {
    expect(connectionSyncSettings(loadConfigText('global_defs {\n router_id a\n}\n'))).toBeUndefined();
  });

  it('defaults the sync id to the followed instance VRID', () => {
    const config = loadConfigText(`global_defs {
  lvs_sync_daemon eth0 VI_1 maxlen 1400 port 9000 ttl 2 group 224.0.0.90
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 42
  priority 100
  virtual_ipaddress {
    10.0.0.100/24
  }
}
`);
    expect(connectionSyncSettings(config)).toEqual({ interface: 'eth0', instance: 'VI_1', syncId: 42, maxLength: 1400, group: '224.0.0.90', port: 9000, ttl: 2 });
  });

  it('takes an explicit id, and 0 when no instance is followed', () => {
    expect(connectionSyncSettings(loadConfigText('global_defs {\n lvs_sync_daemon eth0 id 7\n}\n'))?.syncId).toBe(7);
    expect(connectionSyncSettings(loadConfigText('global_defs {\n lvs_sync_daemon eth0\n}\n'))).toMatchObject({ instance: undefined, syncId: 0, port: 8848, group: '224.0.0.81' });
  });
});

describe('ConnectionSync', () => {
  it('runs both daemons from start to stop when no instance is followed', async () => {
    const kernel = new FakeKernel();
    const sync = new ConnectionSync(settings(undefined), kernel);
    await sync.start();
    expect(kernel.roles()).toEqual(['backup', 'master']);
    await sync.transition('VI_1', 'MASTER');
    await sync.transition('VI_1', 'BACKUP');
    expect(kernel.calls).toEqual(['start master', 'start backup']);
    await sync.stop();
    expect(kernel.roles()).toEqual([]);
  });

  it('swaps the daemon as the followed instance changes state', async () => {
    const kernel = new FakeKernel();
    const started: string[] = [];
    const stopped: string[] = [];
    const sync = new ConnectionSync(settings('VI_1'), kernel, { onStarted: (d) => started.push(d.state), onStopped: (s) => stopped.push(s) });
    await sync.start();
    expect(kernel.roles()).toEqual(['backup']);
    await sync.transition('VI_2', 'MASTER');
    expect(kernel.roles()).toEqual(['backup']);
    await sync.transition('VI_1', 'MASTER');
    expect(kernel.roles()).toEqual(['master']);
    await sync.transition('VI_1', 'FAULT');
    expect(kernel.roles()).toEqual(['backup']);
    await sync.stop();
    expect(kernel.roles()).toEqual([]);
    expect(started).toEqual(['backup', 'master', 'backup']);
    expect(stopped).toEqual(['backup', 'master', 'backup']);
    // Stopped: a late transition starts nothing.
    await sync.transition('VI_1', 'MASTER');
    expect(kernel.roles()).toEqual([]);
  });

  it('applies rapid transitions in order, ending in the last state', async () => {
    const kernel = new FakeKernel();
    const sync = new ConnectionSync(settings('VI_1'), kernel);
    void sync.start();
    void sync.transition('VI_1', 'MASTER');
    void sync.transition('VI_1', 'BACKUP');
    void sync.transition('VI_1', 'MASTER');
    await sync.idle();
    expect(kernel.roles()).toEqual(['master']);
  });

  it('restarts a daemon the kernel runs with other settings, and leaves a foreign one of a role it does not need', async () => {
    const kernel = new FakeKernel();
    kernel.daemons.set('master', { state: 'master', interface: 'eth9', syncId: 3, maxLength: 0, group: '', port: 0, ttl: 1 });
    kernel.daemons.set('backup', { state: 'backup', interface: 'eth1', syncId: 9, maxLength: 0, group: '', port: 0, ttl: 1 });
    const sync = new ConnectionSync(settings('VI_1'), kernel);
    await sync.start();
    expect(kernel.daemons.get('backup')?.syncId).toBe(51);
    expect(kernel.daemons.get('master')?.interface).toBe('eth9');
    await sync.stop();
    expect(kernel.roles()).toEqual(['master']);
  });

  it('repairs a daemon stopped behind its back on the next transition', async () => {
    const kernel = new FakeKernel();
    const sync = new ConnectionSync(settings('VI_1'), kernel);
    await sync.start();
    await sync.transition('VI_1', 'MASTER');
    kernel.daemons.clear();
    await sync.transition('VI_1', 'MASTER');
    expect(kernel.roles()).toEqual(['master']);
  });

  it('reports a kernel error and keeps following', async () => {
    const kernel = new FakeKernel();
    const errors: unknown[] = [];
    const sync = new ConnectionSync(settings('VI_1'), kernel, { onError: (err) => errors.push(err) });
    kernel.failNext = new Error('no such device');
    await sync.start();
    expect(errors.map((e) => (e as Error).message)).toEqual(['no such device']);
    await sync.transition('VI_1', 'MASTER');
    expect(kernel.roles()).toEqual(['master']);
  });
});
