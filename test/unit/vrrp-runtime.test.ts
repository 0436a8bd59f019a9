import { afterEach, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText } from '../../src/config/load.js';
import type { KeepalivedConfig, Script } from '../../src/config/model.js';
import type { VrrpAdvertisement } from '../../src/vrrp/packet.js';
import type { ScriptResult, ScriptRunner } from '../../src/vrrp/script-runner.js';
import { VrrpRuntime, VrrpRuntimeError } from '../../src/vrrp/runtime.js';
import { FakeClock, FakeHost } from './vrrp-fakes.js';

// priority 100, advert_int 1, VRRPv2: 3 × 1 s + (256 − 100)/256 s.
const MASTER_DOWN_MS = 3000 + (156 * 1000) / 256;

interface InstanceText {
  name?: string;
  iface?: string;
  vrid?: number;
  priority?: number;
  vips?: string[];
  extra?: string;
}

function instance(o: InstanceText = {}): string {
  return `vrrp_instance ${o.name ?? 'VI_1'} {
  state BACKUP
  interface ${o.iface ?? 'eth0'}
  virtual_router_id ${o.vrid ?? 51}
  priority ${o.priority ?? 100}
  advert_int 1
  garp_master_delay 0
${o.extra ?? ''}
  virtual_ipaddress {
${(o.vips ?? ['10.99.0.100/24']).map((v) => `    ${v}`).join('\n')}
  }
}
`;
}

function conf(...blocks: string[]): KeepalivedConfig {
  const { config, diagnostics } = loadConfigText(`global_defs {\n  router_id lb1\n}\n${blocks.join('\n')}`, 'k.conf', { configId: 'lb1' });
  if (!config) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return config;
}

/** Exit codes per script path, changeable while running. */
class FakeRunner implements ScriptRunner {
  readonly exit = new Map<string, number>();
  /** Every run, as its words. */
  readonly ran: string[] = [];
  async run(script: Script, extraArgs: readonly string[] = []): Promise<ScriptResult> {
    this.ran.push([...script.argv, ...extraArgs].join(' '));
    return { exitCode: this.exit.get(script.argv[0]!) ?? 0, signal: null, timedOut: false, durationMs: 0 };
  }
}

interface World {
  clock: FakeClock;
  host: FakeHost;
  runner: FakeRunner;
  transitions: string[];
  logs: Array<{ event?: string; instance?: string; reasons?: string[] }>;
  runtime: VrrpRuntime;
}

let running: VrrpRuntime | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function world(config: KeepalivedConfig, setup: (host: FakeHost) => void = (h) => h.createInterface('eth0', '10.99.0.2/24')): Promise<World> {
  const clock = new FakeClock();
  const host = new FakeHost(clock);
  setup(host);
  const runner = new FakeRunner();
  const transitions: string[] = [];
  const logs: World['logs'] = [];
  const log = { info: (f: object) => logs.push(f), warn: (f: object) => logs.push(f) };
  const runtime = await VrrpRuntime.start(config, {
    clock,
    runner,
    log,
    system: host,
    onTransition: (source, name, state, priority) => transitions.push(`${source === 'GROUP' ? 'group ' : ''}${name} ${state} ${priority}`),
  });
  running = runtime;
  await clock.advance(0);
  return { clock, host, runner, transitions, logs, runtime };
}

const stateOf = (w: World, name = 'VI_1') => w.runtime.status().find((s) => s.name === name)!;

describe('VrrpRuntime: a missing interface', () => {
  it('puts only that instance in FAULT, and it leaves FAULT when the interface appears', async () => {
    const w = await world(conf(instance(), instance({ name: 'VI_2', iface: 'eth9', vrid: 52, vips: ['10.99.9.100/24'] })));
    expect(stateOf(w, 'VI_2')).toMatchObject({ state: 'fault', faultReasons: expect.arrayContaining(['interface eth9 does not exist']) });
    expect(w.logs).toContainEqual(expect.objectContaining({ event: 'vrrp-instance-unusable', instance: 'VI_2', reasons: ['interface eth9 does not exist'] }));
    await w.clock.advance(MASTER_DOWN_MS);
    expect(stateOf(w, 'VI_1').state).toBe('master');
    expect(w.host.addressesOn('eth0')).toContain('10.99.0.100/24');

    w.host.createInterface('eth9', '10.99.9.2/24');
    await w.clock.advance(0);
    expect(stateOf(w, 'VI_2')).toMatchObject({ state: 'backup', fault: false, faultReasons: [] });
    expect(w.logs).toContainEqual(expect.objectContaining({ event: 'vrrp-instance-usable', instance: 'VI_2' }));
    await w.clock.advance(MASTER_DOWN_MS);
    expect(stateOf(w, 'VI_2').state).toBe('master');
    expect(w.host.addressesOn('eth9')).toEqual(['10.99.9.2/24', '10.99.9.100/24']);
    expect(w.host.link('eth9').sent.at(-1)!.advert).toMatchObject({ vrid: 52, priority: 100 });
    expect(w.transitions).toEqual(['VI_1 BACKUP 100', 'VI_2 FAULT 100', 'VI_1 MASTER 100', 'VI_2 BACKUP 100', 'VI_2 MASTER 100']);
  });

  it('waits in FAULT for an interface that exists but has no address yet', async () => {
    const w = await world(conf(instance()), (h) => h.createInterface('eth0'));
    expect(stateOf(w)).toMatchObject({ state: 'fault', faultReasons: ['eth0 has no IPv4 address to send adverts from'] });
    await w.host.addAddress({ ifindex: w.host.linkTable.get('eth0')!.index, address: '10.99.0.2', prefixLength: 24 });
    await w.clock.advance(MASTER_DOWN_MS);
    expect(stateOf(w).state).toBe('master');
    expect(w.host.link('eth0').sent.at(-1)!.advert.priority).toBe(100);
  });

  it('holds an instance whose unicast_src_ip is not on the host in FAULT until it is', async () => {
    const extra = '  unicast_src_ip 10.99.0.7\n  unicast_peer {\n    10.99.0.3\n  }';
    const w = await world(conf(instance({ extra })));
    expect(stateOf(w)).toMatchObject({ state: 'fault', faultReasons: ['unicast_src_ip 10.99.0.7 is not configured on this host'] });
    await w.host.addAddress({ ifindex: w.host.linkTable.get('eth0')!.index, address: '10.99.0.7', prefixLength: 24 });
    await w.clock.advance(MASTER_DOWN_MS);
    expect(stateOf(w).state).toBe('master');
    expect(w.host.link('eth0').sent.at(-1)).toMatchObject({ destination: '10.99.0.3' });
  });

  it('goes to FAULT when its interface is deleted and opens a new socket when it is created again', async () => {
    const w = await world(conf(instance()));
    await w.clock.advance(MASTER_DOWN_MS);
    const first = w.host.link('eth0');
    w.host.deleteInterface('eth0');
    await w.clock.advance(0);
    expect(stateOf(w)).toMatchObject({ state: 'fault', faultReasons: expect.arrayContaining(['interface eth0 does not exist']) });
    expect(first.closed).toBe(true);
    w.host.createInterface('eth0', '10.99.0.2/24');
    await w.clock.advance(MASTER_DOWN_MS);
    expect(stateOf(w).state).toBe('master');
    const second = w.host.link('eth0');
    expect(second).not.toBe(first);
    expect(second.ifindex).not.toBe(first.ifindex);
    expect(second.groups).toEqual(['224.0.0.18']);
    expect(w.host.addressesOn('eth0')).toContain('10.99.0.100/24');
  });
});

describe('VrrpRuntime.reload', () => {
  async function master(config: KeepalivedConfig): Promise<World> {
    const w = await world(config);
    await w.clock.advance(MASTER_DOWN_MS);
    expect(stateOf(w).state).toBe('master');
    return w;
  }

  it('leaves an unchanged instance alone: no transition, no extra advert or GARP, VIPs untouched', async () => {
    const config = conf(instance());
    const w = await master(config);
    const link = w.host.link('eth0');
    const before = { sent: link.sent.length, garps: w.host.garps.length, transitions: [...w.transitions], requests: w.host.requests.length };
    await w.clock.advance(400);
    await w.runtime.reload(conf(instance()));
    await w.clock.advance(600);
    expect(link.sent.length).toBe(before.sent + 1); // only the advert due at the next second
    await w.clock.advance(3000);
    expect(link.sent.slice(before.sent).map((s) => s.at)).toEqual([MASTER_DOWN_MS + 1000, MASTER_DOWN_MS + 2000, MASTER_DOWN_MS + 3000, MASTER_DOWN_MS + 4000]);
    expect(w.host.garps.length).toBe(before.garps);
    expect(w.host.requests.length).toBe(before.requests);
    expect(w.transitions).toEqual(before.transitions);
    expect(w.host.link('eth0')).toBe(link);
  });

  it('sends a new priority with the next advert and keeps MASTER', async () => {
    const w = await master(conf(instance({ priority: 150 })));
    const link = w.host.link('eth0');
    const sent = link.sent.length;
    const requests = w.host.requests.length;
    await w.runtime.reload(conf(instance({ priority: 120 })));
    await w.clock.advance(1000);
    expect(link.sent.slice(sent).map((s) => s.advert.priority)).toEqual([120]);
    expect(w.host.requests.length).toBe(requests); // the VIPs are not touched
    expect(stateOf(w)).toMatchObject({ state: 'master', basePriority: 120, priority: 120 });
    expect(w.transitions).toEqual(['VI_1 BACKUP 150', 'VI_1 MASTER 150']);
  });

  it('as MASTER adds new VIPs (announcing only them) and releases removed ones', async () => {
    const w = await master(conf(instance({ vips: ['10.99.0.100/24', '10.99.0.101/24'] })));
    const garps = w.host.garps.length;
    const requests = w.host.requests.length;
    await w.runtime.reload(conf(instance({ vips: ['10.99.0.101/24', '10.99.0.102/24'] })));
    await w.clock.advance(0);
    // 10.99.0.101 is added again and the kernel answers EEXIST: it never leaves the interface.
    expect(w.host.requests.slice(requests)).toEqual(['remove 10.99.0.100/24', 'add 10.99.0.101/24', 'add 10.99.0.102/24']);
    expect(w.host.addressesOn('eth0')).toEqual(['10.99.0.2/24', '10.99.0.101/24', '10.99.0.102/24']);
    expect(w.host.garps.slice(garps)).toEqual(['eth0 10.99.0.102 x5']);
    await w.clock.advance(1000);
    expect(w.host.link('eth0').sent.at(-1)!.advert.addresses).toEqual(['10.99.0.101', '10.99.0.102']);
    expect(stateOf(w).state).toBe('master');
  });

  it('as BACKUP only takes the new VIP list; nothing is added', async () => {
    const w = await world(conf(instance()));
    await w.runtime.reload(conf(instance({ vips: ['10.99.0.100/24', '10.99.0.101/24'] })));
    await w.clock.advance(100);
    expect(stateOf(w).state).toBe('backup');
    expect(w.host.addressesOn('eth0')).toEqual(['10.99.0.2/24']);
    await w.clock.advance(MASTER_DOWN_MS);
    expect(w.host.addressesOn('eth0')).toEqual(['10.99.0.2/24', '10.99.0.100/24', '10.99.0.101/24']);
  });

  it('stops a removed instance as on shutdown (priority 0, VIPs released, STOP) and starts an added one', async () => {
    const w = await master(conf(instance()));
    const link = w.host.link('eth0');
    await w.runtime.reload(conf(instance({ name: 'VI_2', vrid: 52, vips: ['10.99.0.110/24'] })));
    expect(link.sent.at(-1)!.advert).toMatchObject({ vrid: 51, priority: 0 });
    expect(w.host.addressesOn('eth0')).toEqual(['10.99.0.2/24']);
    expect(w.transitions.slice(-2)).toEqual(['VI_1 STOP 100', 'VI_2 BACKUP 100']);
    expect(w.runtime.status().map((s) => s.name)).toEqual(['VI_2']);
    await w.clock.advance(MASTER_DOWN_MS);
    expect(stateOf(w, 'VI_2').state).toBe('master');
    expect(w.host.addressesOn('eth0')).toEqual(['10.99.0.2/24', '10.99.0.110/24']);
  });

  it('runs notify_deleted, not notify_stop, for an instance a reload removed; the generic notify hears DELETED', async () => {
    const extra = '  notify_stop "/bin/stopped"\n  notify_deleted "/bin/deleted"\n  notify "/bin/any"';
    const w = await master(conf(instance({ extra }), instance({ name: 'VI_2', vrid: 52, vips: ['10.99.0.110/24'] })));
    await w.runtime.reload(conf(instance({ name: 'VI_2', vrid: 52, vips: ['10.99.0.110/24'] })));
    await w.clock.advance(0);
    expect(w.runner.ran.slice(-2)).toEqual(['/bin/deleted', '/bin/any INSTANCE VI_1 DELETED 100']);
    expect(w.runner.ran).not.toContain('/bin/stopped');
    expect(w.transitions).toContain('VI_1 STOP 100'); // the sync daemon and smtp_alert see a stop
  });

  it('restarts an instance whose VRID changed', async () => {
    const w = await master(conf(instance()));
    const link = w.host.link('eth0');
    await w.runtime.reload(conf(instance({ vrid: 61 })));
    expect(link.sent.at(-1)!.advert).toMatchObject({ vrid: 51, priority: 0 });
    expect(w.transitions.slice(-2)).toEqual(['VI_1 STOP 100', 'VI_1 BACKUP 100']);
    expect(w.logs).toContainEqual(expect.objectContaining({ event: 'vrrp-instance-reload', instance: 'VI_1', change: 'restart' }));
    await w.clock.advance(MASTER_DOWN_MS);
    expect(w.host.link('eth0')).toBe(link); // the shared socket stays open across the restart
    expect(link.sent.at(-1)!.advert).toMatchObject({ vrid: 61, priority: 100 });
  });

  it('a backup whose priority a reload raises above the master preempts it; with nopreempt it does not', async () => {
    for (const nopreempt of [false, true]) {
      const w = await world(conf(instance({ priority: 100 })));
      const link = w.host.link('eth0');
      const master: VrrpAdvertisement = { version: 2, vrid: 51, priority: 120, advertIntervalMs: 1000, addresses: ['10.99.0.100'], authType: 0, authData: new Uint8Array(8) };
      for (let i = 0; i < 3; i++) {
        link.deliver(master, '10.99.0.3');
        await w.clock.advance(1000);
      }
      await w.runtime.reload(conf(instance({ priority: 200, extra: nopreempt ? '  nopreempt' : '' })));
      for (let i = 0; i < 5; i++) {
        link.deliver(master, '10.99.0.3');
        await w.clock.advance(1000);
      }
      expect(stateOf(w).state).toBe(nopreempt ? 'backup' : 'master');
      await running!.stop();
      running = undefined;
    }
  });

  it('keeps a failing vrrp_script failed across the reload (no bounce through the base priority)', async () => {
    const script = 'vrrp_script chk {\n  script "/bin/chk"\n  interval 1\n  weight -30\n}\n';
    const config = conf(script, instance({ priority: 150, extra: '  track_script {\n    chk\n  }' }));
    const w = await world(config);
    w.runner.exit.set('/bin/chk', 1);
    await w.clock.advance(MASTER_DOWN_MS);
    const link = w.host.link('eth0');
    expect(link.sent.at(-1)!.advert.priority).toBe(120);
    const sent = link.sent.length;
    await w.runtime.reload(conf(script, instance({ priority: 150, vips: ['10.99.0.100/24', '10.99.0.101/24'], extra: '  track_script {\n    chk\n  }' })));
    await w.clock.advance(3000);
    expect(link.sent.slice(sent).map((s) => s.advert.priority)).toEqual([120, 120, 120]);
    w.runner.exit.set('/bin/chk', 0);
    await w.clock.advance(2000);
    expect(link.sent.at(-1)!.advert.priority).toBe(150);
  });

  it('puts instances into a new sync group and takes them out again', async () => {
    const two = [instance(), instance({ name: 'VI_2', vrid: 52, vips: ['10.99.0.110/24'] })];
    const group = 'vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n';
    const w = await world(conf(...two));
    await w.runtime.reload(conf(group, ...two));
    expect(w.runtime.syncGroupStatus()).toEqual([{ name: 'G1', state: 'backup', members: ['VI_1', 'VI_2'] }]);
    await w.clock.advance(MASTER_DOWN_MS);
    expect(w.runtime.syncGroupStatus()[0]!.state).toBe('master');
    expect(w.transitions).toContain('group G1 MASTER 0');
    await w.runtime.reload(conf(...two));
    expect(w.runtime.syncGroupStatus()).toEqual([]);
    expect(w.runtime.status().map((s) => s.state)).toEqual(['master', 'master']);
  });

  it('refuses a configuration it cannot run and changes nothing', async () => {
    const w = await master(conf(instance()));
    const bad = conf(instance({ priority: 120, extra: '  authentication {\n    auth_type AH\n    auth_pass secret\n  }' }));
    await expect(w.runtime.reload(bad)).rejects.toThrow(VrrpRuntimeError);
    await expect(w.runtime.reload(bad)).rejects.toThrow('auth_type AH is not supported');
    await w.clock.advance(1000);
    expect(stateOf(w)).toMatchObject({ state: 'master', basePriority: 100 });
  });

  it('starts a new instance on an interface that does not exist yet in FAULT', async () => {
    const w = await master(conf(instance()));
    await w.runtime.reload(conf(instance(), instance({ name: 'VI_2', iface: 'eth9', vrid: 52 })));
    expect(stateOf(w, 'VI_2')).toMatchObject({ state: 'fault', faultReasons: expect.arrayContaining(['interface eth9 does not exist']) });
    expect(stateOf(w, 'VI_1').state).toBe('master');
  });
});
