// ipvsctl and the metrics endpoint against a real ipvsd in the kernel: status shows the table,
// kernel counters and health; drain/enable/disable change what ipvsadm shows; an override
// survives `ipvsctl reload`; a broken file on reload is reported in status; a second ipvsd on the
// same socket is refused; without a daemon ipvsctl says so.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as ipvsctl } from '../../src/cli/ipvsctl.js';
import type { StatusSnapshot } from '../../src/daemon/status.js';
import { savedRules, ipvsadm } from '../lab/ipvsadm.js';
import { cli, IpvsdProcess, sleep, tableBecomes } from '../lab/ipvsd-process.js';
import { assertInGuest } from '../lab/netns.js';
import { listenLoopback } from '../lab/loopback-listeners.js';

const ctlCli = cli.replace(/ipvsd\.js$/, 'ipvsctl.js');
const service = '-A -t 10.99.0.100:80 -s wrr';
const rule = (n: number, weight: number) => `-a -t 10.99.0.100:80 -r 127.0.0.${n}:8080 -m -w ${weight}`;
const metricsPort = 19477;

function conf(extra = ''): string {
  const rs = (n: number, w: number) => `
    real_server 127.0.0.${n} 8080 {
        weight ${w}
        TCP_CHECK {
            connect_timeout 1
        }
    }`;
  return `virtual_server 10.99.0.100 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
${extra}${rs(11, 1)}${rs(12, 2)}
}
`;
}

let scratch: string;
let socket: string;
let path: string;
let daemon: IpvsdProcess | undefined;
const listeners: Server[] = [];

async function ctl(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await ipvsctl(['--socket', socket, ...argv], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, {});
  return { code, stdout, stderr };
}

async function status(): Promise<StatusSnapshot> {
  const r = await ctl('status', '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StatusSnapshot;
}

beforeAll(async () => {
  assertInGuest();
  expect(existsSync(cli), `${cli} is missing: run \`npm run build:ts\` first`).toBe(true);
  ipvsadm('-C');
  for (const n of [11, 12]) listeners.push(await listenLoopback(n));
  scratch = mkdtempSync(join(tmpdir(), 'ipvsd-api-'));
  socket = join(scratch, 'run', 'ipvsd.sock');
  path = join(scratch, 'keepalived.conf');
  writeFileSync(path, conf());
  daemon = new IpvsdProcess(['-f', path, '--socket', socket, '--metrics-listen', `127.0.0.1:${metricsPort}`]);
  await daemon.waitForEvent('listening', 0, 15_000);
});

afterAll(async () => {
  if (daemon?.alive && daemon.child.pid !== undefined) process.kill(daemon.child.pid, 'SIGKILL');
  for (const s of listeners) await new Promise((r) => s.close(r));
  ipvsadm('-C');
  rmSync(scratch, { recursive: true, force: true });
});

describe('ipvsctl against ipvsd in the kernel', () => {
  it('status shows the table, kernel counters and each checker result', async () => {
    let s = await status();
    // Wait for the first check of both servers (1 s plus up to delay_loop of warmup).
    for (let i = 0; i < 60 && s.virtualServers[0]!.realServers.some((rs) => rs.checkers[0]!.last === undefined); i++) {
      await sleep(100);
      s = await status();
    }
    const vs = s.virtualServers[0]!;
    expect(vs).toMatchObject({ name: 'tcp 10.99.0.100:80', services: ['TCP 10.99.0.100:80'], scheduler: 'wrr', forwarding: 'NAT', quorum: { up: true, liveWeight: 3 } });
    expect(vs.kernel).toMatchObject({ connections: 0, inPackets: 0 });
    expect(s.kernelReadAt).toBeGreaterThan(0);
    expect(vs.realServers.map((rs) => [rs.name, rs.state, rs.effectiveWeight, rs.kernel?.weight, rs.kernel?.activeConnections])).toEqual([
      ['127.0.0.11:8080', 'up', 1, 1, 0],
      ['127.0.0.12:8080', 'up', 2, 2, 0],
    ]);
    expect(vs.realServers[0]!.checkers[0]).toMatchObject({ type: 'TCP_CHECK', up: true, consecutiveFailures: 0, last: { ok: true } });
    const human = await ctl('status');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/-> 127\.0\.0\.11:8080\s+up\s+1\s+1\s+0\s+0\s+0/);
    expect(human.stdout).toContain('TCP_CHECK up: ');
  });

  it('drain sets weight 0 in the kernel and enable restores it; disable removes', async () => {
    expect(await ctl('drain', '10.99.0.100:80', '127.0.0.11:8080')).toMatchObject({ code: 0, stdout: 'tcp 10.99.0.100:80: 127.0.0.11:8080 drained\n' });
    await tableBecomes([service, rule(11, 0), rule(12, 2)], 3000);
    expect((await status()).virtualServers[0]!.realServers[0]).toMatchObject({ state: 'drained', effectiveWeight: 0, override: { kind: 'drain' } });
    await ctl('enable', '10.99.0.100:80', '127.0.0.11:8080');
    await tableBecomes([service, rule(11, 1), rule(12, 2)], 3000);
    await ctl('weight', '10.99.0.100:80', '127.0.0.12:8080', '7');
    await tableBecomes([service, rule(11, 1), rule(12, 7)], 3000);
    await ctl('disable', '10.99.0.100:80', '127.0.0.11:8080');
    await tableBecomes([service, rule(12, 7)], 3000);
    // The log lines arrive through a pipe, possibly after the table changed.
    for (let i = 0; i < 40 && daemon!.events('override-set').length < 3; i++) await sleep(50);
    expect(daemon!.events('override-set').map((e) => e.override)).toEqual(['drained', 'weight 7', 'disabled']);
    expect(daemon!.events('override-cleared')).toHaveLength(1);
  });

  it('overrides survive ipvsctl reload; unknown servers are one sentence and exit 1', async () => {
    writeFileSync(path, conf('    persistence_timeout 60\n'));
    expect(await ctl('reload')).toEqual({ code: 0, stdout: 'configuration reloaded\n', stderr: '' });
    await tableBecomes(['-A -t 10.99.0.100:80 -s wrr -p 60', rule(12, 7)], 3000);
    expect((await ctl('drain', '10.99.0.100:81', '127.0.0.11:8080')).stderr).toBe('ipvsctl: no virtual server 10.99.0.100:81 in the running configuration\n');
    expect(await ctl('drain', '10.99.0.100:80', '127.0.0.13:8080')).toEqual({ code: 1, stdout: '', stderr: 'ipvsctl: tcp 10.99.0.100:80 has no real server 127.0.0.13:8080\n' });
  });

  it('a broken file on reload is refused and shown in status', async () => {
    writeFileSync(path, conf('    bogus_keyword 1\n'));
    const r = await ctl('reload');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${path}:6:5: error: unknown keyword \`bogus_keyword\` in virtual_server\nipvsctl: reload rejected; ipvsd keeps running the previous configuration\n`);
    const s = await status();
    expect(s.config.lastReload).toMatchObject({ ok: false, errors: [`${path}:6:5: error: unknown keyword \`bogus_keyword\` in virtual_server`] });
    expect((await ctl('status')).stdout).toContain(`LAST RELOAD FAILED`);
    expect(savedRules()).toEqual(['-A -t 10.99.0.100:80 -s wrr -p 60', rule(12, 7)].sort());
  });

  it('serves metrics with the kernel table and the overrides', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(text).toContain('ipvsd_real_server_override{vs="tcp 10.99.0.100:80",rs="127.0.0.11:8080",kind="disable"} 1');
    expect(text).toContain('ipvsd_real_server_weight{vs="tcp 10.99.0.100:80",rs="127.0.0.12:8080"} 7');
    expect(text).toContain('ipvsd_real_server_active_connections{vs="tcp 10.99.0.100:80",rs="127.0.0.12:8080"} 0');
    expect(text).toContain('ipvsd_config_reloads_total{result="failure"} 1');
    expect(text).toMatch(/ipvsd_reconcile_runs_total\{pass="start"\} 1/);
  });

  it('log-level changes the level at run time', async () => {
    expect(await ctl('log-level', 'debug')).toEqual({ code: 0, stdout: 'log level debug\n', stderr: '' });
    expect((await status()).logLevel).toBe('debug');
    expect((await ctl('log-level', 'loud')).stderr).toMatch(/^ipvsctl: unknown log level `loud`/);
  });

  it('a second ipvsd on the same socket says so and leaves the table alone', () => {
    const r = spawnSync(process.execPath, [cli, '-f', path, '--socket', socket, '--metrics-listen', 'none'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe(`ipvsd: another ipvsd is already running (its control socket ${socket} answers)\n`);
    expect(r.status).toBe(1);
    expect(savedRules()).toEqual(['-A -t 10.99.0.100:80 -s wrr -p 60', rule(12, 7)].sort());
  });

  it('after the daemon stops, ipvsctl says it cannot reach it and exits 1', async () => {
    await daemon!.stop();
    expect(existsSync(socket)).toBe(false);
    const r = spawnSync(process.execPath, [ctlCli, '--socket', socket, 'status'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe(`ipvsctl: cannot reach ipvsd at ${socket}: is it running?\n`);
    expect(r.status).toBe(1);
  });
});
