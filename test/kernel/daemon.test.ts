// The daemon end to end in the real kernel: `ipvsd -f CONF` programs the table, follows TCP
// checks against listeners on guest loopback, repairs `ipvsadm -C`, reloads in place on SIGHUP,
// ignores a broken file, and on SIGTERM removes only what it owns, quickly.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipvsadm, savedRules } from '../lab/ipvsadm.js';
import { cli, IpvsdProcess as Daemon, sleep, tableBecomes } from '../lab/ipvsd-process.js';
import { assertInGuest } from '../lab/netns.js';
import { closeServer, listenLoopback } from '../lab/loopback-listeners.js';


const service = '-A -t 10.99.0.100:80 -s wrr';
const foreign = ['-A -t 10.9.9.9:22 -s rr', '-a -t 10.9.9.9:22 -r 10.9.9.10:22 -g -w 1'];
const rule = (n: number, weight: number) => `-a -t 10.99.0.100:80 -r 127.0.0.${n}:8080 -m -w ${weight}`;
/** /proc/net/ip_vs names the service as hex address:port; reading it is cheap enough to poll every 10 ms. */
const serviceInProc = 'TCP  0A630064:0050';

function realServer(n: number, weight: number, extra = ''): string {
  return `
    real_server 127.0.0.${n} 8080 {
        weight ${weight}
        ${extra}
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }`;
}

function conf(servers: string): string {
  return `virtual_server 10.99.0.100 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
${servers}
}
`;
}

const first = conf(realServer(11, 1) + realServer(12, 2, 'inhibit_on_failure'));

const figures: Record<string, string> = {};
const listeners = new Map<number, Server>();
let scratch: string;
let path: string;
let daemon: Daemon | undefined;
/** Short-lived daemons of the later tests, each killed at the end if its test failed. */
const spares: Daemon[] = [];

beforeAll(async () => {
  assertInGuest();
  expect(existsSync(cli), `${cli} is missing: run \`npm run build:ts\` first`).toBe(true);
  ipvsadm('-C');
  ipvsadm('-A', '-t', '10.9.9.9:22', '-s', 'rr');
  ipvsadm('-a', '-t', '10.9.9.9:22', '-r', '10.9.9.10:22', '-g');
  for (const n of [11, 12, 13]) listeners.set(n, await listenLoopback(n));
  scratch = mkdtempSync(join(tmpdir(), 'ipvsd-daemon-'));
  // Readable by the unprivileged run below.
  chmodSync(scratch, 0o755);
  path = join(scratch, 'keepalived.conf');
  writeFileSync(path, first);
});

afterAll(async () => {
  for (const d of [daemon, ...spares]) {
    if (d?.alive && d.child.pid !== undefined) process.kill(d.child.pid, 'SIGKILL');
  }
  for (const server of listeners.values()) await closeServer(server);
  ipvsadm('-C');
  rmSync(scratch, { recursive: true, force: true });
  console.log(`daemon figures: ${Object.entries(figures).map(([k, v]) => `${k} ${v}`).join(', ')}`);
});

describe('ipvsd -f CONF in the kernel', () => {
  it('programs the table at start, next to a foreign service', async () => {
    daemon = new Daemon(['-f', path, '--log-level', 'debug']);
    // Waiting on the log, not polling ipvsadm, leaves the guest's one CPU to the daemon.
    const started = await daemon.waitForEvent('started', 0, 15_000);
    figures['spawn->table'] = `${Math.round(performance.now() - daemon.spawnedAt)} ms (node start included)`;
    figures['start->table (logged)'] = `${String(started.durationMs)} ms`;
    expect(savedRules()).toEqual([service, rule(11, 1), rule(12, 2), ...foreign].sort());
    expect(started).toMatchObject({ virtualServers: 1, realServers: 2, checkers: 2, services: 1 });
  });

  it('removes a real server whose listener closed, and puts it back when it listens again', async () => {
    const mark = daemon!.logs.length;
    await closeServer(listeners.get(11)!);
    listeners.delete(11);
    const closedAt = performance.now();
    await tableBecomes([service, rule(12, 2), ...foreign], 6000);
    figures['detect down'] = `${Math.round(performance.now() - closedAt)} ms`;
    const down = await daemon!.waitForEvent('real-server-down', mark, 1000);
    expect(down).toMatchObject({ virtualServer: 'tcp 10.99.0.100:80', realServer: '127.0.0.11:8080', checker: 'tcp 10.99.0.100:80 127.0.0.11:8080 TCP_CHECK' });
    expect(String(down.reason)).toContain('connection refused');

    listeners.set(11, await listenLoopback(11));
    const openedAt = performance.now();
    await tableBecomes([service, rule(11, 1), rule(12, 2), ...foreign], 4000);
    figures['detect up'] = `${Math.round(performance.now() - openedAt)} ms`;
    await daemon!.waitForEvent('real-server-up', mark, 1000);
  });

  it('sets an inhibit_on_failure server to weight 0 instead of removing it', async () => {
    await closeServer(listeners.get(12)!);
    listeners.delete(12);
    await tableBecomes([service, rule(11, 1), rule(12, 0), ...foreign], 6000);
    listeners.set(12, await listenLoopback(12));
    await tableBecomes([service, rule(11, 1), rule(12, 2), ...foreign], 4000);
  });

  it('repairs ipvsadm -C behind its back within about 6 s', async () => {
    const mark = daemon!.logs.length;
    ipvsadm('-C');
    ipvsadm('-A', '-t', '10.9.9.9:22', '-s', 'rr');
    ipvsadm('-a', '-t', '10.9.9.9:22', '-r', '10.9.9.10:22', '-g');
    const ms = await tableBecomes([service, rule(11, 1), rule(12, 2), ...foreign], 6500);
    figures['repair after -C'] = `${Math.round(ms)} ms`;
    const repair = await daemon!.waitForEvent('kernel-repair', mark, 1000);
    expect(repair.operations).toEqual(expect.arrayContaining([`ipvsadm ${service}`]));
  });

  it('keeps running on the old table when SIGHUP brings a broken file', async () => {
    const mark = daemon!.logs.length;
    writeFileSync(path, first.replace('lb_algo wrr', 'lb_algo wrr\n    bogus_keyword 1'));
    daemon!.child.kill('SIGHUP');
    const rejected = await daemon!.waitForEvent('reload-rejected', mark, 5000);
    expect(rejected.diagnostics).toEqual([`${path}:4:5: error: unknown keyword \`bogus_keyword\` in virtual_server`]);
    await sleep(1500);
    expect(daemon!.alive).toBe(true);
    expect(savedRules()).toEqual([service, rule(11, 1), rule(12, 2), ...foreign].sort());
  });

  it('applies a changed weight and an added real server in place on SIGHUP', async () => {
    const mark = daemon!.logs.length;
    writeFileSync(path, conf(realServer(11, 3) + realServer(12, 2, 'inhibit_on_failure') + realServer(13, 1)));
    let polls = 0;
    let missing = 0;
    let done = false;
    const watch = (async () => {
      while (!done) {
        polls++;
        if (!readFileSync('/proc/net/ip_vs', 'utf8').includes(serviceInProc)) missing++;
        await sleep(10);
      }
    })();
    const sent = performance.now();
    daemon!.child.kill('SIGHUP');
    const reloaded = await daemon!.waitForEvent('reloaded', mark, 5000);
    figures['HUP->reloaded'] = `${Math.round(performance.now() - sent)} ms (logged apply ${String(reloaded.durationMs)} ms)`;
    await sleep(300);
    done = true;
    await watch;
    expect(polls).toBeGreaterThan(10);
    expect(missing).toBe(0);
    expect(reloaded).toMatchObject({ adoptedCheckers: 2, operations: [`ipvsadm -e -t 10.99.0.100:80 -r 127.0.0.11:8080 -m -w 3`, `ipvsadm -a -t 10.99.0.100:80 -r 127.0.0.13:8080 -m -w 1`] });
    expect(savedRules()).toEqual([service, rule(11, 3), rule(12, 2), rule(13, 1), ...foreign].sort());
  });

  it('on SIGTERM removes its services, keeps the foreign one, and exits 0 in under a second', async () => {
    const ms = await daemon!.stop();
    figures.stop = `${Math.round(ms)} ms`;
    expect(daemon!.child.exitCode).toBe(0);
    expect(ms).toBeLessThan(1000);
    expect(savedRules()).toEqual([...foreign].sort());
    expect(daemon!.events('stopped')).toHaveLength(1);
  });

  it('without CAP_NET_ADMIN says so in one sentence and exits 1', () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, cli, '-f', path], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
    });
    expect(r.stderr).toBe('ipvsd: permission denied: programming IPVS needs CAP_NET_ADMIN (run ipvsd as root)\n');
    expect(r.status).toBe(1);
    expect(savedRules()).toEqual([...foreign].sort());
  });

  it('sets lvs_timeouts while running and restores them on stop; lvs_flush_on_stop VS removes its services', async () => {
    const timeouts = () => ipvsadm('-L', '--timeout').trim();
    const before = timeouts();
    writeFileSync(path, `global_defs {\n    lvs_timeouts tcp 100 tcpfin 20 udp 50\n    lvs_flush_on_stop VS\n}\n${first}`);
    const spare = new Daemon(['-f', path, '--log-level', 'warn']);
    spares.push(spare);
    await tableBecomes([service, rule(11, 1), rule(12, 2), ...foreign], 10_000);
    expect(timeouts()).toBe('Timeout (tcp tcpfin udp): 100 20 50');
    await spare.stop();
    expect(spare.child.exitCode).toBe(0);
    expect(timeouts()).toBe(before);
    expect(savedRules()).toEqual([...foreign].sort());
  });

  it('with -I leaves its services in the kernel on stop', async () => {
    writeFileSync(path, first);
    const spare = new Daemon(['-f', path, '-I', '--log-level', 'warn']);
    spares.push(spare);
    await tableBecomes([service, rule(11, 1), rule(12, 2), ...foreign], 10_000);
    await spare.stop();
    expect(spare.child.exitCode).toBe(0);
    expect(savedRules()).toEqual([service, rule(11, 1), rule(12, 2), ...foreign].sort());
  });
});
