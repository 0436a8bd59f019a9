// vrrp_track_process against Debian's keepalived as the peer: ipvsd, master, tracks a process by
// name; when that process is killed the VIP moves to keepalived, and comes back when it runs
// again. Both speakers run in their own network namespace (sharing the host's PID namespace),
// where the kernel's process events connector does not answer: ipvsd says so and reads /proc.
// Needs root, iproute2 and keepalived; run with `npm run test:interop`.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { usePair, VIP, type Side } from './vrrp-pair.js';

const NAME = 'ipvsd-tp-vip';
const lab = usePair('track_process figures');
let dir: string;
const tracked: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-tp-vip-'));
  copyFileSync('/bin/sleep', join(dir, NAME));
});

// Registered after usePair's, so it runs first: the tracked processes go before the speakers.
afterEach(async () => {
  await Promise.all(tracked.splice(0).map(stopTracked));
}, 20_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function startTracked(): Promise<ChildProcess> {
  const child = spawn(join(dir, NAME), ['1000'], { stdio: 'ignore' });
  tracked.push(child);
  await once(child, 'spawn');
  return child;
}

async function stopTracked(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  process.kill(child.pid!);
  await once(child, 'exit');
}

const only = (side: Side) => (owners: Side[]) => owners.length === 1 && owners[0] === side;

const ipvsdConf = (weight: string) => `global_defs {
    router_id ipvsd_a
}
vrrp_track_process track_sleep {
    process ${NAME}
    terminate_delay 0.5
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    track_process {
        track_sleep${weight}
    }
    virtual_ipaddress {
        ${VIP}
    }
}
`;

describe('track_process: the VIP follows the tracked process', () => {
  it('weight 0: ipvsd goes to FAULT when the process is killed; keepalived takes the VIP; ipvsd takes it back', async () => {
    lab.pair.vip = VIP;
    let process1 = await startTracked();
    const ipvsd = lab.pair.startIpvsd('a', ipvsdConf(''));
    lab.pair.startKeepalived('b', { state: 'BACKUP', priority: 100, version: 2, advertInt: '1' });
    await lab.pair.waitFor(only('a'), 10_000);

    const killedAt = performance.now();
    await stopTracked(process1);
    // /proc read every second, terminate_delay 0.5 s, then keepalived's Skew_Time after priority 0.
    const took = await lab.pair.waitFor(only('b'), 6000, killedAt);
    expect(took).toBeGreaterThan(0.45);
    expect(took).toBeLessThan(3.5);
    expect(ipvsd.output()).toContain('"event":"vrrp-track-process-events","source":"poll"');
    expect(ipvsd.output()).toMatch(/"event":"vrrp-track-process","name":"track_sleep","up":false/);

    process1 = await startTracked();
    await lab.pair.waitFor(only('a'), 8000);
    expect(ipvsd.child.exitCode).toBeNull();
  });

  it('weight -60: the priority drops below keepalived\'s, which preempts', async () => {
    lab.pair.vip = VIP;
    const process1 = await startTracked();
    lab.pair.startIpvsd('a', ipvsdConf(' weight -60'));
    lab.pair.startKeepalived('b', { state: 'BACKUP', priority: 100, version: 2, advertInt: '1' });
    await lab.pair.waitFor(only('a'), 10_000);
    const killedAt = performance.now();
    await stopTracked(process1);
    // Seen within a second (poll) + 0.5 s; the next advert says 90, which keepalived ignores, so
    // it takes over when its Master_Down_Interval (3.6 s) runs out: at most about 6 s.
    const took = await lab.pair.waitFor(only('b'), 10_000, killedAt);
    expect(took).toBeGreaterThan(3.5);
    expect(took).toBeLessThan(6.5);
  });
});
