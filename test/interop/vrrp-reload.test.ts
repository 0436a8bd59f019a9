// ipvsd's VRRP against Debian's keepalived 2.2.7 in two host network namespaces: a SIGHUP reload
// under a running pair (priority moved, VIP added), nopreempt and preempt_delay in both roles, and
// an instance whose interface only appears after ipvsd started.
// Needs root, iproute2 and keepalived; run with `npm run test:interop`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VIP, VIP2, usePair, type Side, type Speaker } from './vrrp-pair.js';

const lab = usePair('VRRP reload / preemption figures (s)');

const only = (side: Side) => (owners: Side[]) => owners.length === 1 && owners[0] === side;

interface Instance {
  role: 'MASTER' | 'BACKUP';
  priority: number;
  vips?: string[];
  /** Extra lines inside vrrp_instance. */
  extra?: string;
  iface?: string;
  name?: string;
  vrid?: number;
}

// VRRPv3 at 0.1 s: a backup of priority 100 declares the master dead after ~0.36 s.
function instance(o: Instance): string {
  return `vrrp_instance ${o.name ?? 'VI_1'} {
    state ${o.role}
    interface ${o.iface ?? 'eth0'}
    virtual_router_id ${o.vrid ?? 51}
    priority ${o.priority}
    advert_int 0.1
    version 3
${o.extra ?? ''}    virtual_ipaddress {
${(o.vips ?? [VIP]).map((v) => `        ${v}\n`).join('')}    }
}
`;
}

const conf = (routerId: string, ...instances: Instance[]) => `global_defs {\n    router_id ${routerId}\n}\n${instances.map(instance).join('')}`;

function startIpvsd(side: Side, ...instances: Instance[]): Speaker {
  return lab.pair.startIpvsd(side, conf(`ipvsd_${side}`, ...instances));
}

function startKeepalived(side: Side, ...instances: Instance[]): Speaker {
  return lab.pair.startKeepalived(side, conf(`keepalived_${side}`, ...instances));
}

/** Rewrites the file the speaker was started with, sends SIGHUP and waits for the reload to be logged. */
async function reload(s: Speaker, ...instances: Instance[]): Promise<void> {
  // Before its handler is installed, SIGHUP would end a starting ipvsd.
  if (s.kind === 'ipvsd') await logged(s, 0, '"VRRP started"');
  const file = join(lab.pair.dir, `${s.kind}-${s.side}.conf`);
  writeFileSync(file, conf(`${s.kind}_${s.side}`, ...instances));
  const before = s.output().length;
  process.kill(s.child.pid!, 'SIGHUP');
  if (s.kind === 'ipvsd') await logged(s, before, '"event":"reloaded"');
}

async function logged(s: Speaker, from: number, text: string): Promise<void> {
  const t0 = performance.now();
  while (!s.output().slice(from).includes(text)) {
    if (performance.now() - t0 > 5000) throw new Error(`${s.kind} never logged ${text}:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function settle(master: Side, ...speakers: Speaker[]): Promise<void> {
  await lab.pair.waitFor(only(master), 8000).catch((err: Error) => {
    throw new Error(`${err.message}\n${speakers.map((s) => `--- ${s.kind} ${s.side}:\n${s.output()}`).join('\n')}`);
  });
  expect([...(await lab.pair.watch(500))]).toEqual([master]);
}

function stillRunning(...speakers: Speaker[]): void {
  for (const s of speakers) expect(s.child.exitCode, `${s.kind} exited:\n${s.output()}`).toBeNull();
}

describe('reload (SIGHUP) under a running pair', () => {
  it('lowering ipvsd\'s priority as master hands the VIP to keepalived without restarting the instance', async () => {
    lab.pair.vip = VIP;
    const ipvsd = startIpvsd('a', { role: 'MASTER', priority: 150 });
    const keepalived = startKeepalived('b', { role: 'BACKUP', priority: 100 });
    await settle('a', ipvsd, keepalived);
    const t0 = performance.now();
    await reload(ipvsd, { role: 'MASTER', priority: 50 });
    const took = await lab.pair.waitFor(only('b'), 3000, t0);
    lab.figures.push(`v3 reload ipvsd master 150 -> 50: keepalived (100) owns: ${took.toFixed(3)}`);
    expect([...(await lab.pair.watch(500))]).toEqual(['b']);
    stillRunning(ipvsd, keepalived);
    // Kept, not restarted: no STOP on the way, the instance went MASTER -> BACKUP on keepalived's advert.
    const states = [...ipvsd.output().matchAll(/"to":"(\w+)"/g)].map((m) => m[1]);
    expect(states).toEqual(['backup', 'master', 'backup']);
  }, 30_000);

  it('raising ipvsd\'s priority as backup makes it preempt keepalived', async () => {
    lab.pair.vip = VIP;
    const keepalived = startKeepalived('a', { role: 'MASTER', priority: 150 });
    const ipvsd = startIpvsd('b', { role: 'BACKUP', priority: 100 });
    await settle('a', ipvsd, keepalived);
    const t0 = performance.now();
    await reload(ipvsd, { role: 'BACKUP', priority: 200 });
    const took = await lab.pair.waitFor(only('b'), 3000, t0);
    lab.figures.push(`v3 reload ipvsd backup 100 -> 200: ipvsd preempts keepalived (150): ${took.toFixed(3)}`);
    expect([...(await lab.pair.watch(500))]).toEqual(['b']);
    stillRunning(ipvsd, keepalived);
  }, 30_000);

  it('adding a VIP on both sides: the master adds it, the first VIP never moves', async () => {
    lab.pair.vip = VIP;
    const ipvsd = startIpvsd('a', { role: 'MASTER', priority: 150 });
    const keepalived = startKeepalived('b', { role: 'BACKUP', priority: 100 });
    await settle('a', ipvsd, keepalived);
    const watching = lab.pair.watch(2500);
    await reload(keepalived, { role: 'BACKUP', priority: 100, vips: [VIP, VIP2] });
    await reload(ipvsd, { role: 'MASTER', priority: 150, vips: [VIP, VIP2] });
    const t0 = performance.now();
    while ((await lab.pair.holders([VIP2]))[VIP2]!.join() !== 'a') {
      if (performance.now() - t0 > 2000) throw new Error(`VIP2 not added:\n${ipvsd.output()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect([...(await watching)], 'the first VIP stayed with ipvsd alone').toEqual(['a']);
    expect(await lab.pair.holders([VIP, VIP2])).toEqual({ [VIP]: ['a'], [VIP2]: ['a'] });
    stillRunning(ipvsd, keepalived);
    // And it is really part of the instance now: SIGTERM hands both to keepalived.
    lab.pair.terminate(ipvsd);
    const t1 = performance.now();
    for (;;) {
      const h = await lab.pair.holders([VIP, VIP2]);
      if (h[VIP]!.join() === 'b' && h[VIP2]!.join() === 'b') break;
      if (performance.now() - t1 > 3000) throw new Error(`keepalived did not take both VIPs: ${JSON.stringify(h)}\n${keepalived.output()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }, 30_000);

  it('removing the instance releases the VIP with a priority-0 advert, so keepalived takes over after Skew_Time', async () => {
    lab.pair.vip = VIP;
    const ipvsd = startIpvsd('a', { role: 'MASTER', priority: 150 });
    const keepalived = startKeepalived('b', { role: 'BACKUP', priority: 100 });
    await settle('a', ipvsd, keepalived);
    const t0 = performance.now();
    await reload(ipvsd, { role: 'MASTER', priority: 150, name: 'VI_OTHER', vrid: 60, vips: ['10.98.0.150/24'] });
    const took = await lab.pair.waitFor((owners) => owners.includes('b'), 3000, t0);
    lab.figures.push(`v3 reload removes ipvsd's instance: keepalived owns: ${took.toFixed(3)}`);
    // Skew_Time for priority 100 at 0.1 s is 0.06 s; Master_Down_Interval would be 0.36 s.
    expect(took).toBeLessThan(0.3);
    expect([...(await lab.pair.watch(300))]).toEqual(['b']);
    stillRunning(ipvsd, keepalived);
  }, 30_000);
});

describe('nopreempt and preempt_delay', () => {
  it('ipvsd (BACKUP, 200, nopreempt) does not take over from keepalived (100); a reload without nopreempt does', async () => {
    lab.pair.vip = VIP;
    const keepalived = startKeepalived('a', { role: 'MASTER', priority: 100 });
    await settle('a', keepalived);
    const ipvsd = startIpvsd('b', { role: 'BACKUP', priority: 200, extra: '    nopreempt\n' });
    await new Promise((r) => setTimeout(r, 500)); // ipvsd is up and hearing adverts
    expect([...(await lab.pair.watch(1500))], ipvsd.output()).toEqual(['a']);
    stillRunning(ipvsd, keepalived);
    await reload(ipvsd, { role: 'BACKUP', priority: 200 });
    await lab.pair.waitFor(only('b'), 3000);
  }, 30_000);

  it('keepalived (BACKUP, 200, nopreempt) does not take over from ipvsd (100)', async () => {
    lab.pair.vip = VIP;
    const ipvsd = startIpvsd('a', { role: 'MASTER', priority: 100 });
    await settle('a', ipvsd);
    const keepalived = startKeepalived('b', { role: 'BACKUP', priority: 200, extra: '    nopreempt\n' });
    await new Promise((r) => setTimeout(r, 500));
    expect([...(await lab.pair.watch(1500))], keepalived.output()).toEqual(['a']);
    stillRunning(ipvsd, keepalived);
    // nopreempt only stops preemption: the master leaving still hands over.
    lab.pair.terminate(ipvsd);
    await lab.pair.waitFor(only('b'), 2000);
  }, 30_000);

  it('ipvsd (BACKUP, 200, preempt_delay 1) takes over from keepalived (100) only after the delay', async () => {
    lab.pair.vip = VIP;
    const keepalived = startKeepalived('a', { role: 'MASTER', priority: 100 });
    await settle('a', keepalived);
    const t0 = performance.now();
    const ipvsd = startIpvsd('b', { role: 'BACKUP', priority: 200, extra: '    preempt_delay 1\n' });
    const took = await lab.pair.waitFor(only('b'), 5000, t0);
    lab.figures.push(`v3 ipvsd preempt_delay 1 (200 vs keepalived 100): start -> ipvsd owns: ${took.toFixed(3)}`);
    // Without the delay: process start + Master_Down_Interval (0.32 s), well under a second.
    expect(took).toBeGreaterThan(1.0);
    expect(took).toBeLessThan(3.5);
    stillRunning(ipvsd, keepalived);
  }, 30_000);

  it('keepalived (BACKUP, 200, preempt_delay 1) takes over from ipvsd (100) only after the delay', async () => {
    lab.pair.vip = VIP;
    const ipvsd = startIpvsd('a', { role: 'MASTER', priority: 100 });
    await settle('a', ipvsd);
    const t0 = performance.now();
    const keepalived = startKeepalived('b', { role: 'BACKUP', priority: 200, extra: '    preempt_delay 1\n' });
    const took = await lab.pair.waitFor(only('b'), 5000, t0);
    lab.figures.push(`v3 keepalived preempt_delay 1 (200 vs ipvsd 100): start -> keepalived owns: ${took.toFixed(3)}`);
    expect(took).toBeGreaterThan(1.0);
    expect(took).toBeLessThan(3.5);
    stillRunning(ipvsd, keepalived);
  }, 30_000);
});

describe('an interface that appears after ipvsd started', () => {
  it('holds that instance in FAULT while the other runs, and brings it up when the link is created', async () => {
    const late = '10.98.5.100/24';
    lab.pair.vip = VIP;
    const ipvsd = startIpvsd('a', { role: 'MASTER', priority: 150 }, { role: 'MASTER', priority: 150, name: 'VI_LATE', vrid: 55, iface: 'late0', vips: [late] });
    await settle('a', ipvsd);
    stillRunning(ipvsd);
    expect(ipvsd.output()).toContain('"event":"vrrp-instance-unusable"');
    expect(ipvsd.output()).toContain('interface late0 does not exist');
    // A veth pair inside namespace a: late0 gets an address and carrier.
    lab.pair.exec('a', ['ip', 'link', 'add', 'late0', 'type', 'veth', 'peer', 'name', 'late1']);
    try {
      lab.pair.exec('a', ['ip', 'addr', 'add', '10.98.5.2/24', 'dev', 'late0']);
      lab.pair.exec('a', ['ip', 'link', 'set', 'late1', 'up']);
      const t0 = performance.now();
      lab.pair.exec('a', ['ip', 'link', 'set', 'late0', 'up']);
      while (!lab.pair.exec('a', ['ip', '-o', 'addr', 'show', 'dev', 'late0']).includes(` ${late} `)) {
        if (performance.now() - t0 > 3000) throw new Error(`no VIP on late0:\n${ipvsd.output()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      lab.figures.push(`v3 interface created after start: link up -> VIP on it: ${((performance.now() - t0) / 1000).toFixed(3)}`);
      expect(ipvsd.output()).toContain('"event":"vrrp-instance-usable"');
      expect(await lab.pair.owners()).toEqual(['a']);
      stillRunning(ipvsd);
    } finally {
      lab.pair.exec('a', ['ip', 'link', 'del', 'late0']);
    }
  }, 30_000);
});
