import { describe, expect, it } from 'vitest';
import { VirtualRouter, type VirtualRouterSettings } from '../../src/vrrp/instance.js';
import { encodeAdvertisement, passwordBytes } from '../../src/vrrp/packet.js';
import type { ReceivedPacket } from '../../src/vrrp/transport.js';
import { FakeClock, flush, Recorder, routerSettings } from './vrrp-fakes.js';

function setup(overrides: Partial<VirtualRouterSettings> = {}, machine: Partial<VirtualRouterSettings['machine']> = {}) {
  const clock = new FakeClock();
  const rec = new Recorder(clock);
  const router = new VirtualRouter(routerSettings(overrides, machine), {
    clock,
    sender: rec,
    vips: rec,
    announcer: rec,
    notify: (state, priority) => rec.notify(state, priority),
  });
  return { clock, rec, router };
}

function advert(priority: number, opts: { source?: string; ttl?: number; intervalMs?: number; version?: 2 | 3; vrid?: number; addresses?: string[] } = {}): ReceivedPacket {
  const version = opts.version ?? 2;
  const source = opts.source ?? '10.99.0.3';
  const destination = '224.0.0.18';
  const payload = encodeAdvertisement(
    {
      version,
      vrid: opts.vrid ?? 51,
      priority,
      advertIntervalMs: opts.intervalMs ?? 1000,
      addresses: opts.addresses ?? ['10.99.0.100'],
      authType: 0,
      authData: version === 2 ? new Uint8Array(8) : new Uint8Array(0),
    },
    { source, destination },
  );
  return { payload, source, destination, ttl: opts.ttl ?? 255 };
}

async function startedMaster() {
  const s = setup();
  s.router.start();
  await s.clock.advance(3414.0625);
  expect(s.router.state).toBe('master');
  return s;
}

describe('VirtualRouter start', () => {
  it('clears leftover VIPs as backup, then after Master_Down_Interval adverts, adds the VIPs and GARPs', async () => {
    const { clock, rec, router } = setup();
    router.start();
    await flush();
    // A VIP a crashed run left behind goes before this node can become master.
    expect(rec.log).toEqual(['notify BACKUP 150', 'vip remove']);
    await clock.advance(3414);
    expect(router.state).toBe('backup');
    await clock.advance(0.0625); // 3 × 1 s + (256 − 150)/256 s
    expect(router.state).toBe('master');
    expect(rec.log.slice(2)).toEqual(['advert 150', 'notify MASTER 150', 'vip add', 'garp 10.99.0.100 x5']);
    expect(rec.sent[0]).toMatchObject({ at: 3414.0625, destination: '224.0.0.18', ttl: 255 });
    expect(rec.sent[0]!.advert).toMatchObject({ version: 2, vrid: 51, priority: 150, advertIntervalMs: 1000, addresses: ['10.99.0.100'] });
  });

  it('adverts every advert_int and sends the second GARP burst after garp_master_delay', async () => {
    const { clock, rec } = await startedMaster();
    rec.log.length = 0;
    await clock.advance(5000);
    expect(rec.log).toEqual(['advert 150', 'advert 150', 'advert 150', 'advert 150', 'garp 10.99.0.100 x5', 'advert 150']);
    expect(rec.sent.map((s) => s.at - 3414.0625)).toEqual([0, 1000, 2000, 3000, 4000, 5000]);
  });

  it('refreshes GARPs periodically with garp_master_refresh and stops when leaving master', async () => {
    const { clock, rec, router } = setup({ garp: { repeat: 2, delayMs: 0, refreshMs: 2000, refreshRepeat: 1, lowerPriorityRepeat: 0, lowerPriorityDelayMs: 0 } });
    router.start();
    await clock.advance(3414.0625 + 4500);
    expect(rec.log.filter((l) => l.startsWith('garp'))).toEqual(['garp 10.99.0.100 x2', 'garp 10.99.0.100 x1', 'garp 10.99.0.100 x1']);
    for (let i = 0; i < 10; i++) {
      router.receive(advert(200));
      await clock.advance(1000);
    }
    expect(router.state).toBe('backup');
    expect(rec.log.filter((l) => l.startsWith('garp'))).toHaveLength(3);
  });

  it('an owner (priority 255) is master at once', async () => {
    const { rec, router } = setup({}, { priority: 255 });
    router.start();
    await flush();
    expect(router.state).toBe('master');
    expect(rec.log).toEqual(['advert 255', 'notify MASTER 255', 'vip add', 'garp 10.99.0.100 x5']);
  });
});

describe('VirtualRouter failover', () => {
  it('master yields to a higher priority: VIPs removed, BACKUP notified, master recorded', async () => {
    const { clock, rec, router } = await startedMaster();
    rec.log.length = 0;
    router.receive(advert(200, { source: '10.99.0.3' }));
    await flush();
    expect(router.state).toBe('backup');
    expect(rec.log).toEqual(['notify BACKUP 150', 'vip remove']);
    const st = router.status();
    expect(st.master).toEqual({ address: '10.99.0.3', priority: 200 });
    expect(st.lastTransition).toMatchObject({ from: 'master', to: 'backup' });
    expect(st.counters).toMatchObject({ becameMaster: 1, releasedMaster: 1, transitions: 3, advertsReceived: 1 });
    await clock.advance(3000);
    expect(router.state).toBe('backup');
  });

  it('master answers a lower priority at once (forcing a new election)', async () => {
    const { rec, router } = await startedMaster();
    rec.log.length = 0;
    router.receive(advert(100));
    expect(rec.log).toEqual(['advert 150']);
    expect(router.state).toBe('master');
  });

  it('garp_lower_prio_repeat: a lower-priority advert gets an advert back and GARPs now and after the delay', async () => {
    const { clock, rec, router } = setup({ garp: { repeat: 5, delayMs: 0, refreshMs: 0, refreshRepeat: 1, lowerPriorityRepeat: 2, lowerPriorityDelayMs: 300 } });
    router.start();
    await clock.advance(3414.0625);
    rec.log.length = 0;
    router.receive(advert(100));
    expect(rec.log).toEqual(['advert 150', 'garp 10.99.0.100 x2']);
    await clock.advance(300);
    expect(rec.log).toEqual(['advert 150', 'garp 10.99.0.100 x2', 'garp 10.99.0.100 x2']);
    router.receive(advert(200));
    await clock.advance(300);
    expect(rec.log.filter((l) => l.startsWith('garp'))).toHaveLength(2); // not after yielding to a higher priority
  });

  it('backup takes over Skew_Time after a priority-0 advert', async () => {
    const { clock, rec, router } = setup({}, { priority: 100, initialState: 'backup' });
    router.start();
    await clock.advance(1000);
    router.receive(advert(150));
    await clock.advance(1000);
    router.receive(advert(0));
    expect(router.status().counters.priorityZeroReceived).toBe(1);
    await clock.advance(609);
    expect(router.state).toBe('backup');
    await clock.advance(0.375); // (256 − 100)/256 s
    expect(router.state).toBe('master');
    expect(rec.log.at(-1)).toBe('garp 10.99.0.100 x5');
  });

  it('backup keeps waiting while a higher-priority master adverts', async () => {
    const { clock, router } = setup({}, { priority: 100 });
    router.start();
    for (let i = 0; i < 10; i++) {
      await clock.advance(1000);
      router.receive(advert(150));
    }
    expect(router.state).toBe('backup');
    expect(router.status().counters.advertsReceived).toBe(10);
  });
});

describe('VirtualRouter shutdown', () => {
  it('sends priority 0 before the VIPs are released, then notifies STOP', async () => {
    const { rec, router } = await startedMaster();
    rec.log.length = 0;
    await router.stop();
    expect(rec.log).toEqual(['advert 0', 'notify STOP 150', 'vip remove']);
    expect(router.state).toBe('init');
    expect(router.status().counters).toMatchObject({ priorityZeroSent: 1, releasedMaster: 1 });
  });

  it('a backup stops without an advert', async () => {
    const { rec, router } = setup({}, { priority: 100 });
    router.start();
    await flush();
    rec.log.length = 0;
    await router.stop();
    expect(rec.log).toEqual(['notify STOP 100', 'vip remove']);
  });

  it('no timer fires after stop', async () => {
    const { clock, rec, router } = await startedMaster();
    await router.stop();
    const count = rec.sent.length;
    await clock.advance(20_000);
    expect(rec.sent.length).toBe(count);
  });
});

describe('VirtualRouter receive checks', () => {
  it('counts each drop reason and does not act on a dropped advert', async () => {
    const { clock, router } = setup({}, { priority: 100 });
    router.start();
    await clock.advance(100);
    router.receive(advert(200, { ttl: 64 }));
    router.receive(advert(200, { intervalMs: 2000 }));
    router.receive(advert(200, { addresses: ['10.99.0.101'] }));
    router.receive(advert(200, { version: 3 }));
    const bad = advert(200);
    bad.payload[6]! ^= 0xff;
    router.receive(bad);
    expect(router.status().counters.drops).toEqual({ ttl: 1, interval: 1, 'address-list': 1, version: 1, checksum: 1 });
    expect(router.status().counters.advertsReceived).toBe(0);
    await clock.advance(3700);
    expect(router.state).toBe('master'); // none of them reset the down timer
  });

  it('v2 PASS authentication: a missing or wrong password is dropped, the right one accepted', () => {
    const { router } = setup({ authType: 1, authData: passwordBytes('secret') }, { priority: 100 });
    router.start();
    router.receive(advert(200));
    const withPassword = (password: string) => {
      const p = advert(200);
      const payload = encodeAdvertisement(
        { version: 2, vrid: 51, priority: 200, advertIntervalMs: 1000, addresses: ['10.99.0.100'], authType: 1, authData: passwordBytes(password) },
        { source: p.source, destination: p.destination },
      );
      return { ...p, payload };
    };
    router.receive(withPassword('wrong'));
    router.receive(withPassword('secret'));
    expect(router.status().counters.drops).toEqual({ 'auth-type': 1, 'auth-mismatch': 1 });
    expect(router.status().counters.advertsReceived).toBe(1);
  });

  it('skip_check_adv_addr accepts a different VIP list from the known master only', async () => {
    const { clock, router } = setup({ skipCheckAdvAddr: true }, { priority: 100 });
    router.start();
    router.receive(advert(150, { addresses: ['10.99.0.101'] }));
    expect(router.status().counters.drops['address-list']).toBe(1);
    router.receive(advert(150));
    router.receive(advert(150, { addresses: ['10.99.0.101'] }));
    expect(router.status().counters.advertsReceived).toBe(2);
    await clock.advance(100);
  });

  it('ignores adverts in FAULT and counts them as not-listening', async () => {
    const { rec, router } = setup({}, { priority: 100 });
    router.track(100, true, ['interface eth0']);
    router.start();
    await flush();
    expect(router.state).toBe('fault');
    expect(rec.log).toEqual(['notify FAULT 100', 'vip remove']);
    router.receive(advert(150));
    expect(router.status().counters.drops).toEqual({ 'not-listening': 1 });
    expect(router.status().faultReasons).toEqual(['interface eth0']);
  });

  it('v3 learns the master interval and checks the pseudo-header checksum', async () => {
    const { clock, router } = setup({}, { version: 3, advertIntervalMs: 100, priority: 100 });
    router.start();
    router.receive(advert(150, { version: 3, intervalMs: 200 }));
    expect(router.status().advertIntervalMs).toBe(200);
    await clock.advance(3 * 200 + 121);
    expect(router.state).toBe('backup');
    await clock.advance(1);
    expect(router.state).toBe('master'); // 3 × 200 + (256−100)×200/256 = 721.875 ms
  });
});

describe('VirtualRouter trackers and VIP upkeep', () => {
  it('a fault while master sends priority 0 and releases the VIPs; recovery waits as backup', async () => {
    const { clock, rec, router } = await startedMaster();
    rec.log.length = 0;
    router.track(150, true, ['script chk']);
    await flush();
    expect(rec.log).toEqual(['advert 0', 'notify FAULT 150', 'vip remove']);
    router.track(150, false);
    await flush();
    expect(router.state).toBe('backup');
    await clock.advance(3414.0625);
    expect(router.state).toBe('master');
  });

  it('a lowered priority goes into the adverts', async () => {
    const { clock, rec, router } = await startedMaster();
    router.track(120, false);
    await clock.advance(1000);
    expect(rec.sent.at(-1)!.advert.priority).toBe(120);
    expect(router.status()).toMatchObject({ priority: 120, basePriority: 150 });
  });

  it('puts back a VIP removed by someone else while master, and GARPs it', async () => {
    const { rec, router } = await startedMaster();
    rec.log.length = 0;
    router.addressChanged({ action: 'remove', address: { family: 'inet', ifindex: 2, address: '10.99.0.100', prefixLength: 24, scope: 0, flags: 0 } });
    await router.settled();
    expect(rec.log).toEqual(['vip restore 10.99.0.100', 'garp 10.99.0.100 x5']);
  });

  it('counts VIP failures without stopping', async () => {
    const { clock, rec, router } = setup();
    rec.failAdd = true;
    router.start();
    await clock.advance(3414.0625);
    await router.settled();
    expect(router.state).toBe('master');
    expect(router.status().counters.vipErrors).toBe(1);
  });

  it('sends one advert per unicast peer with the unicast TTL', async () => {
    const { rec } = (() => {
      const s = setup({ destinations: ['10.99.0.3', '10.99.0.4'], unicastPeers: [{ address: '10.99.0.3' }, { address: '10.99.0.4' }], ttl: 64 }, { priority: 255 });
      s.router.start();
      return s;
    })();
    expect(rec.sent.map((s) => [s.destination, s.ttl])).toEqual([
      ['10.99.0.3', 64],
      ['10.99.0.4', 64],
    ]);
  });
});

describe('VirtualRouter VIP queue', () => {
  it('gives up on a VIP change the kernel never answers, and carries on with the next', async () => {
    const clock = new FakeClock();
    const rec = new Recorder(clock);
    let hang = true;
    const vips = {
      add: () => (hang ? new Promise<never>(() => {}) : rec.add()),
      remove: () => rec.remove(),
      addresses: () => rec.addresses(),
      lostBy: () => undefined,
      restore: async () => undefined,
    };
    const garp = { repeat: 5, delayMs: 0, refreshMs: 0, refreshRepeat: 1, lowerPriorityRepeat: 0, lowerPriorityDelayMs: 0 };
    const router = new VirtualRouter(routerSettings({ garp }, { priority: 255 }), { clock, sender: rec, vips, announcer: rec, notify: () => {} });
    router.start();
    await clock.advance(4999);
    expect(router.status().counters.vipErrors).toBe(0);
    await clock.advance(1);
    expect(router.status().counters.vipErrors).toBe(1);
    hang = false;
    await router.stop();
    expect(rec.log.filter((l) => l !== 'advert 255')).toEqual(['advert 0', 'vip remove']);
  });
});
