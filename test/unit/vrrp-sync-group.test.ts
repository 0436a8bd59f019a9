import { describe, expect, it } from 'vitest';
import { VirtualRouter } from '../../src/vrrp/instance.js';
import { VrrpStateMachine } from '../../src/vrrp/instance-state.js';
import { encodeAdvertisement } from '../../src/vrrp/packet.js';
import { SyncGroup } from '../../src/vrrp/sync-group.js';
import type { ReceivedPacket } from '../../src/vrrp/transport.js';
import { FakeClock, flush, Recorder, routerSettings } from './vrrp-fakes.js';

function member(clock: FakeClock, name: string, vrid: number, priority: number, vip: string) {
  const rec = new Recorder(clock, [vip]);
  const router = new VirtualRouter(
    routerSettings({ name, vrid, advertised: [vip] }, { priority, initialState: 'backup', syncGroup: true }),
    { clock, sender: rec, vips: rec, announcer: rec, notify: (state, p) => rec.notify(state, p) },
  );
  return { rec, router };
}

function advert(vrid: number, priority: number, vip: string): ReceivedPacket {
  const source = '10.99.0.3';
  const destination = '224.0.0.18';
  const payload = encodeAdvertisement({ version: 2, vrid, priority, advertIntervalMs: 1000, addresses: [vip], authType: 0, authData: new Uint8Array(8) }, { source, destination });
  return { payload, source, destination, ttl: 255 };
}

describe('VrrpStateMachine in a sync group', () => {
  it('only wants master when master-down expires, and goes on sync-master', () => {
    const m = new VrrpStateMachine({ version: 2, priority: 100, advertIntervalMs: 1000, primaryAddress: '10.0.0.1', syncGroup: true });
    m.handle({ type: 'start', now: 0 });
    expect(m.handle({ type: 'timer', now: 3609.375, timer: 'master-down' })).toEqual([{ type: 'want-master' }]);
    expect(m.state).toBe('backup');
    expect(m.status().wantsMaster).toBe(true);
    expect(m.handle({ type: 'sync-master', now: 4000 }).map((a) => a.type)).toEqual(['send-advert', 'become-master', 'notify', 'set-timer']);
    expect(m.status().wantsMaster).toBe(false);
  });

  it('sync-backup makes a master yield and a waiting member wait afresh', () => {
    const m = new VrrpStateMachine({ version: 2, priority: 100, advertIntervalMs: 1000, primaryAddress: '10.0.0.1', syncGroup: true });
    m.handle({ type: 'start', now: 0 });
    m.handle({ type: 'timer', now: 3609.375, timer: 'master-down' });
    expect(m.handle({ type: 'sync-backup', now: 4000 })).toEqual([{ type: 'set-timer', timer: 'master-down', due: 7609.375 }]);
    expect(m.status().wantsMaster).toBe(false);
    m.handle({ type: 'timer', now: 7609.375, timer: 'master-down' });
    m.handle({ type: 'sync-master', now: 7700 });
    expect(m.state).toBe('master');
    expect(m.handle({ type: 'sync-backup', now: 8000 }).map((a) => a.type)).toEqual(['cancel-timer', 'become-backup', 'notify', 'set-timer']);
    expect(m.state).toBe('backup');
  });
});

describe('SyncGroup', () => {
  it('members become master together, when the last one wants to', async () => {
    const clock = new FakeClock();
    const a = member(clock, 'VI_OUT', 51, 150, '10.99.0.100');
    const b = member(clock, 'VI_IN', 52, 100, '192.168.0.1');
    const changes: string[] = [];
    const group = new SyncGroup('G', [a.router, b.router], (to, from) => changes.push(`${from}->${to}`));
    a.router.start();
    b.router.start();
    await clock.advance(3414.0625); // a's Master_Down_Interval
    expect(a.router.state).toBe('backup');
    expect(a.router.wantsMaster).toBe(true);
    expect(a.rec.log).not.toContain('vip add');
    await clock.advance(3609.375 - 3414.0625); // b's
    await flush();
    expect([a.router.state, b.router.state]).toEqual(['master', 'master']);
    expect(group.state()).toBe('master');
    expect(a.rec.log.slice(-3)).toEqual(['notify MASTER 150', 'vip add', 'garp 10.99.0.100 x5']);
    // The group itself: BACKUP at start, MASTER only once both members are.
    expect(changes).toEqual(['init->backup', 'backup->master']);
    await a.router.stop();
    await b.router.stop();
    expect(changes).toEqual(['init->backup', 'backup->master', 'master->backup', 'backup->stopped']);
  });

  it('a member still hearing a master holds the others in backup', async () => {
    const clock = new FakeClock();
    const a = member(clock, 'VI_OUT', 51, 150, '10.99.0.100');
    const b = member(clock, 'VI_IN', 52, 100, '192.168.0.1');
    new SyncGroup('G', [a.router, b.router]);
    a.router.start();
    b.router.start();
    for (let t = 0; t < 10; t++) {
      b.router.receive(advert(52, 200, '192.168.0.1'));
      await clock.advance(1000);
    }
    expect([a.router.state, b.router.state]).toEqual(['backup', 'backup']);
    expect(a.router.wantsMaster).toBe(true);
    expect(a.rec.sent).toHaveLength(0);
  });

  it('one member yielding to a higher priority pulls the other to backup', async () => {
    const clock = new FakeClock();
    const a = member(clock, 'VI_OUT', 51, 150, '10.99.0.100');
    const b = member(clock, 'VI_IN', 52, 150, '192.168.0.1');
    const group = new SyncGroup('G', [a.router, b.router]);
    a.router.start();
    b.router.start();
    await clock.advance(3414.0625);
    expect(group.state()).toBe('master');
    b.router.receive(advert(52, 200, '192.168.0.1'));
    await flush();
    expect([a.router.state, b.router.state]).toEqual(['backup', 'backup']);
    expect(a.rec.log.slice(-2)).toEqual(['notify BACKUP 150', 'vip remove']);
    expect(group.state()).toBe('backup');
  });
});
