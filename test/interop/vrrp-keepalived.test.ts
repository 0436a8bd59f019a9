// ipvsd's VRRP against Debian's keepalived 2.2.7 (and against itself) in two host network
// namespaces: who becomes master in either role, and how long until the backup owns the VIP after
// the master is SIGTERMed or SIGKILLed, measured from outside with `ip -n NS addr`.
// Needs root, iproute2 and keepalived; run with `npm run test:interop`.
import { chmodSync, closeSync, constants, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADDRESSES, VIP, VIP2, VIP6, usePair, type InstanceOptions, type Side, type Speaker } from './vrrp-pair.js';

const lab = usePair('VRRP interop figures (s)');

const only = (side: Side) => (owners: Side[]) => owners.length === 1 && owners[0] === side;
const other = (side: Side): Side => (side === 'a' ? 'b' : 'a');

interface Timing {
  version: 2 | 3;
  advertInt: string;
  advertMs: number;
  vip?: string;
}

const v2: Timing = { version: 2, advertInt: '1', advertMs: 1000 };
const v3: Timing = { version: 3, advertInt: '0.1', advertMs: 100 };

function start(kind: Speaker['kind'], side: Side, t: Timing, role: 'MASTER' | 'BACKUP'): Speaker {
  const o: InstanceOptions = { state: role, priority: role === 'MASTER' ? 150 : 100, version: t.version, advertInt: t.advertInt, vip: t.vip ?? VIP };
  lab.pair.vip = o.vip!;
  return kind === 'ipvsd' ? lab.pair.startIpvsd(side, o) : lab.pair.startKeepalived(side, o);
}

// Master_Down_Interval for the backup (priority 100) and its skew, in seconds.
const masterDown = (t: Timing) => (3 * t.advertMs + ((256 - 100) * (t.version === 2 ? 1000 : t.advertMs)) / 256) / 1000;
const skew = (t: Timing) => ((256 - 100) * (t.version === 2 ? 1000 : t.advertMs)) / 256 / 1000;

async function converge(master: Speaker, t: Timing, backup?: Speaker): Promise<number> {
  const took = await lab.pair.waitFor(only(master.side), 8000 + 10 * t.advertMs);
  if (backup) expect(backup.child.exitCode, `${backup.kind} (backup) exited:\n${backup.output()}`).toBeNull();
  // Stable: for three adverts only the master holds the VIP.
  const seen = await lab.pair.watch(3 * t.advertMs + 200);
  expect([...seen], `${master.kind} output:\n${master.output()}`).toEqual([master.side]);
  return took;
}

async function failover(kind: 'SIGTERM' | 'SIGKILL', master: Speaker, peer: Speaker, t: Timing, label: string): Promise<number> {
  const backup = other(master.side);
  const t0 = performance.now();
  if (kind === 'SIGTERM') lab.pair.terminate(master);
  else lab.pair.crash(master);
  const took = await lab.pair.waitFor((owners) => owners.includes(backup), 10_000, t0).catch(async (err: Error) => {
    if (peer.kind === 'ipvsd' && peer.child.pid !== undefined) {
      process.kill(peer.child.pid, 'SIGUSR2'); // logs its status: state, counters, drops
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`${err.message}\n--- ${peer.kind} (backup) output:\n${peer.output()}\n--- ${master.kind} (master) output:\n${master.output()}`);
  });
  lab.figures.push(`${label} ${kind} -> backup owns VIP: ${took.toFixed(3)}`);
  if (kind === 'SIGTERM') {
    // Priority 0: the backup waits only Skew_Time (plus the poll's resolution and process start-up).
    expect(took).toBeGreaterThan(skew(t) * 0.8);
    expect(took).toBeLessThan(skew(t) + 0.4);
    await master.exited;
    lab.figures.push(`${label} SIGTERM -> master process exited: ${((performance.now() - t0) / 1000).toFixed(3)}`);
  } else {
    // Silence: up to Master_Down_Interval after the last advert the dead master sent.
    expect(took).toBeGreaterThan(masterDown(t) - t.advertMs / 1000 - 0.05);
    expect(took).toBeLessThan(masterDown(t) + 0.4);
  }
  return took;
}

async function scenario(masterKind: Speaker['kind'], backupKind: Speaker['kind'], t: Timing): Promise<void> {
  const label = `v${t.version}${t.vip?.includes(':') ? '/IPv6' : ''} ${masterKind} master / ${backupKind} backup:`;
  let master = start(masterKind, 'a', t, 'MASTER');
  const backup = start(backupKind, 'b', t, 'BACKUP');
  lab.figures.push(`${label} start -> master sole owner: ${(await converge(master, t, backup)).toFixed(3)}`);
  await failover('SIGTERM', master, backup, t, label);

  master = start(masterKind, 'a', t, 'MASTER');
  const preempt = await lab.pair.waitFor(only('a'), 10_000);
  lab.figures.push(`${label} restart -> master preempts: ${preempt.toFixed(3)}`);
  await failover('SIGKILL', master, backup, t, label);
}

describe('VRRPv2, advert_int 1', () => {
  it('ipvsd MASTER (150) with keepalived BACKUP (100)', () => scenario('ipvsd', 'keepalived', v2), 60_000);
  it('keepalived MASTER (150) with ipvsd BACKUP (100)', () => scenario('keepalived', 'ipvsd', v2), 60_000);
});

describe('VRRPv3, advert_int 0.1', () => {
  it('ipvsd MASTER (150) with keepalived BACKUP (100)', () => scenario('ipvsd', 'keepalived', v3), 30_000);
  it('keepalived MASTER (150) with ipvsd BACKUP (100)', () => scenario('keepalived', 'ipvsd', v3), 30_000);
  it('ipvsd with ipvsd', () => scenario('ipvsd', 'ipvsd', v3), 30_000);
});

describe('VRRPv3 over IPv6 (link-local sources, ff02::12, unsolicited NA), advert_int 0.1', () => {
  const v6: Timing = { ...v3, vip: VIP6 };
  it('ipvsd MASTER (150) with keepalived BACKUP (100)', () => scenario('ipvsd', 'keepalived', v6), 30_000);
  it('keepalived MASTER (150) with ipvsd BACKUP (100)', () => scenario('keepalived', 'ipvsd', v6), 30_000);
});

describe('unicast (unicast_src_ip, unicast_peer), VRRPv3 advert_int 0.1', () => {
  it('ipvsd MASTER with keepalived BACKUP: ipvsd owns; SIGTERM -> keepalived owns', async () => {
    const unicast = (self: string, peer: string) => `    unicast_src_ip ${self}\n    unicast_peer {\n        ${peer}\n    }\n`;
    lab.pair.vip = VIP;
    const master = lab.pair.startIpvsd('a', { state: 'MASTER', priority: 150, version: 3, advertInt: '0.1', extra: unicast(ADDRESSES.a, ADDRESSES.b) });
    const backup = lab.pair.startKeepalived('b', { state: 'BACKUP', priority: 100, version: 3, advertInt: '0.1', extra: unicast(ADDRESSES.b, ADDRESSES.a) });
    await converge(master, v3, backup);
    await failover('SIGTERM', master, backup, v3, 'v3 unicast ipvsd master / keepalived backup:');
  }, 30_000);
});

describe('gratuitous ARP and unsolicited NA', () => {
  it('move the peer\'s neighbour entries for an IPv4 VIP and an excluded IPv6 VIP to the new master\'s MAC', async () => {
    const bogus = '02:00:00:00:00:01';
    const [vip4, vip6] = [VIP.split('/')[0]!, VIP6.split('/')[0]!];
    for (const vip of [vip4, vip6]) lab.pair.exec('b', ['ip', 'neigh', 'replace', vip, 'lladdr', bogus, 'dev', 'eth0', 'nud', 'stale']);
    const mac = JSON.parse(lab.pair.exec('a', ['ip', '-j', 'link', 'show', 'dev', 'eth0']))[0].address as string;
    lab.pair.vip = VIP;
    const master = lab.pair.startIpvsd('a', {
      state: 'MASTER', priority: 150, version: 3, advertInt: '0.1',
      extra: `    virtual_ipaddress_excluded {\n        ${VIP6}\n    }\n`,
    });
    await converge(master, v3);
    const neighbour = (vip: string) => lab.pair.exec('b', ['ip', 'neigh', 'show', vip, 'dev', 'eth0']);
    expect(neighbour(vip4)).toContain(`lladdr ${mac}`);
    expect(neighbour(vip6)).toContain(`lladdr ${mac}`);
    expect(lab.pair.exec('a', ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).toContain(` ${VIP6} `);
  }, 30_000);
});

describe('track_script and notify', () => {
  it('a failing check lowers ipvsd\'s priority so keepalived takes over, and back; notify runs in order', async () => {
    const healthy = join(lab.pair.dir, 'healthy');
    const notes = join(lab.pair.dir, 'notes');
    const notify = join(lab.pair.dir, 'notify.sh');
    writeFileSync(notify, `#!/bin/sh\necho "$*" >> ${notes}\n`);
    chmodSync(notify, 0o755);
    writeFileSync(healthy, '');
    lab.pair.vip = VIP;
    const fifo = join(lab.pair.dir, 'vrrp.fifo');
    const master = lab.pair.startIpvsd('a', {
      state: 'MASTER', priority: 150, version: 3, advertInt: '0.1',
      globals: `    vrrp_notify_fifo ${fifo}\n`,
      blocks: `vrrp_script chk {\n    script "/usr/bin/test -e ${healthy}"\n    interval 1\n    weight -60\n}\n`,
      extra: `    track_script {\n        chk\n    }\n    notify_master "${notify} master"\n    notify "${notify}"\n`,
    });
    const backup = start('keepalived', 'b', v3, 'BACKUP');
    await converge(master, v3, backup);
    rmSync(healthy);
    const down = await lab.pair.waitFor(only('b'), 5000); // within one interval + Master_Down_Interval
    rmSync(notes, { force: true });
    writeFileSync(healthy, '');
    const up = await lab.pair.waitFor(only('a'), 5000);
    lab.figures.push(`v3 track_script (interval 1, weight -60): check fails -> keepalived owns: ${down.toFixed(3)}; check passes -> ipvsd owns again: ${up.toFixed(3)}`);
    await lab.pair.watch(300);
    const lines = readFileSync(notes, 'utf8').trim().split('\n');
    expect(lines).toEqual(['master', 'INSTANCE VI_1 MASTER 150']);
    // The FIFO has every transition, in order, with the priority at the time (90 while the check failed).
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf);
    closeSync(fd);
    expect(buf.subarray(0, n).toString().trim().split('\n')).toEqual([
      'INSTANCE "VI_1" BACKUP 150',
      'INSTANCE "VI_1" MASTER 150',
      'INSTANCE "VI_1" BACKUP 90',
      'INSTANCE "VI_1" MASTER 150',
    ]);
  }, 30_000);
});

describe('track_interface', () => {
  it('a tracked link losing carrier puts ipvsd in FAULT (priority 0 advert, VIP released); carrier back -> master again', async () => {
    // A veth pair inside namespace a: taking one end down drops the other's carrier.
    lab.pair.exec('a', ['ip', 'link', 'add', 'trk0', 'type', 'veth', 'peer', 'name', 'trk1']);
    lab.pair.exec('a', ['ip', 'link', 'set', 'trk0', 'up']);
    lab.pair.exec('a', ['ip', 'link', 'set', 'trk1', 'up']);
    lab.pair.vip = VIP;
    const master = lab.pair.startIpvsd('a', { state: 'MASTER', priority: 150, version: 3, advertInt: '0.1', extra: '    track_interface {\n        trk0\n    }\n' });
    const backup = start('keepalived', 'b', v3, 'BACKUP');
    await converge(master, v3, backup);
    const t0 = performance.now();
    lab.pair.exec('a', ['ip', 'link', 'set', 'trk1', 'down']);
    const down = await lab.pair.waitFor(only('b'), 3000, t0);
    lab.pair.exec('a', ['ip', 'link', 'set', 'trk1', 'up']);
    const up = await lab.pair.waitFor(only('a'), 3000);
    lab.figures.push(`v3 track_interface: carrier lost -> keepalived owns: ${down.toFixed(3)}; carrier back -> ipvsd owns: ${up.toFixed(3)}`);
    // FAULT sends priority 0, so the backup takes over after Skew_Time, not Master_Down_Interval.
    expect(down).toBeLessThan(skew(v3) + 0.25);
    lab.pair.exec('a', ['ip', 'link', 'del', 'trk0']);
  }, 30_000);
});

describe('vrrp_sync_group', () => {
  // Two instances that must move together; on ipvsd's side only VI_2 tracks the check.
  const conf = (routerId: string, role: 'MASTER' | 'BACKUP', priority: number, check?: string) => `global_defs {
    router_id ${routerId}
}
${check ? `vrrp_script chk {\n    script "/usr/bin/test -e ${check}"\n    interval 1\n}\n` : ''}
vrrp_sync_group G {
    group {
        VI_1
        VI_2
    }
}
${[1, 2]
  .map(
    (n) => `vrrp_instance VI_${n} {
    state ${role}
    interface eth0
    virtual_router_id ${50 + n}
    priority ${priority}
    advert_int 0.1
    version 3
${check && n === 2 ? '    track_script {\n        chk\n    }\n' : ''}    virtual_ipaddress {
        ${n === 1 ? VIP : VIP2}
    }
}
`,
  )
  .join('')}`;

  it('a failing check on one ipvsd member moves both VIPs to keepalived, and both come back', async () => {
    const healthy = join(lab.pair.dir, 'healthy-sync');
    writeFileSync(healthy, '');
    const ipvsd = lab.pair.startIpvsd('a', conf('ipvsd_a', 'MASTER', 150, healthy));
    const keepalived = lab.pair.startKeepalived('b', conf('keepalived_b', 'BACKUP', 100));
    const both = (side: Side) => async () => {
      const h = await lab.pair.holders([VIP, VIP2]);
      return h[VIP]!.join() === side && h[VIP2]!.join() === side;
    };
    const until = async (check: () => Promise<boolean>, ms: number) => {
      const t0 = performance.now();
      while (!(await check())) {
        if (performance.now() - t0 > ms) throw new Error(`timed out: ${JSON.stringify(await lab.pair.holders([VIP, VIP2]))}\n${ipvsd.output()}\n${keepalived.output()}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return (performance.now() - t0) / 1000;
    };
    await until(both('a'), 8000);
    rmSync(healthy);
    const moved = await until(both('b'), 5000);
    writeFileSync(healthy, '');
    const back = await until(both('a'), 5000);
    lab.figures.push(`v3 sync group (2 instances, check on one, interval 1): check fails -> keepalived owns both: ${moved.toFixed(3)}; passes -> ipvsd owns both: ${back.toFixed(3)}`);
    lab.pair.terminate(ipvsd);
    await until(both('b'), 2000);
  }, 30_000);
});

describe('after a crash', () => {
  it('a restarted ipvsd removes the VIP its killed predecessor left before it can become master', async () => {
    const backup = start('keepalived', 'b', v3, 'BACKUP');
    let master = start('ipvsd', 'a', v3, 'MASTER');
    await converge(master, v3);
    lab.pair.crash(master);
    await lab.pair.waitFor((owners) => owners.length === 2, 5000); // both hold it: nobody cleaned up
    master = start('ipvsd', 'a', v3, 'BACKUP'); // BACKUP with priority 100 vs keepalived's 100 and a lower address: stays backup
    await lab.pair.waitFor(only('b'), 5000);
    const seen = await lab.pair.watch(1000);
    expect([...seen], `${master.output()}\n${backup.output()}`).toEqual(['b']);
  }, 30_000);
});
