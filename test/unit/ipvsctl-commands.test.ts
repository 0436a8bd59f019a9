// ipvsctl end to end against a fake daemon on a real socket: the aligned table and --json,
// overrides, reload, log-level, exit codes and the sentences when something is wrong.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlRequestError, type ControlTarget } from '../../src/api/control-protocol.js';
import { ControlServer } from '../../src/api/control-server.js';
import type { StatusSnapshot } from '../../src/daemon/status.js';
import { main } from '../../src/cli/ipvsctl.js';
import { fakeDaemon, webConfig } from './api-status-source.js';

let dir: string;
let path: string;
let server: ControlServer;
const fake = fakeDaemon(webConfig(3));
let reloadOk = true;

const target: ControlTarget = {
  status: () => fake.status.snapshot(),
  reload: async () => (reloadOk ? { ok: true, errors: [] } : { ok: false, errors: ['/etc/keepalived/keepalived.conf:4:5: error: unknown keyword `bogus`'] }),
  override: (r) => {
    if (r.virtualServer !== '10.99.0.100:80') throw new ControlRequestError('ENOVIRTUALSERVER', `no virtual server ${r.virtualServer} in the running configuration`);
    return { virtualServer: 'tcp 10.99.0.100:80', realServer: r.realServer, now: r.action === 'weight' ? `weight ${r.weight}` : r.action === 'enable' ? 'no override' : `${r.action}ed` };
  },
  setLogLevel: () => {},
};

async function ctl(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, { IPVSD_SOCKET: path });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsctl-'));
  path = join(dir, 'ipvsd.sock');
  server = await ControlServer.listen(path, target);
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ipvsctl', () => {
  it('status prints an aligned table with kernel counters, weights, health and VRRP', async () => {
    const r = await ctl('status');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^ipvsd 0\.1\.0, pid \d+, up \d+s, log level info$/);
    expect(r.stdout).toContain('tcp 10.99.0.100:80  [TCP 10.99.0.100:80]  wrr  NAT  quorum up (live weight 6, quorum 1, hysteresis 0)');
    expect(r.stdout).toContain('conns 1000  inpkts 10000  outpkts 9000  inbytes 1000000  outbytes 900000');
    const header = lines.find((l) => l.includes('-> RealServer'))!;
    const row = lines.find((l) => l.includes('-> 10.1.0.2:8080'))!;
    expect(header.trim().split(/\s{2,}/)).toEqual(['-> RealServer', 'State', 'Weight', 'Config', 'ActiveConn', 'InActConn', 'Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes', 'Since', 'Override']);
    expect(row.trim().split(/\s{2,}/)).toEqual(['-> 10.1.0.2:8080', 'up', '2', '2', '1', '1', '2', '20', '18', '2000', '1800', '0s']);
    // Right-aligned numbers end where their header ends.
    expect(row.indexOf(' 2000') + ' 2000'.length).toBe(header.indexOf('InBytes') + 'InBytes'.length);
    expect(r.stdout).toContain('TCP_CHECK up: not checked yet');
    expect(r.stdout).toMatch(/VI_1\s+eth0\s+51\s+MASTER\s+150\s+150\s+this node\s+BACKUP -> MASTER/);
  });

  it('status --json prints the snapshot', async () => {
    const r = await ctl('status', '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as StatusSnapshot;
    expect(s.virtualServers[0]!.realServers.map((rs) => [rs.name, rs.state, rs.effectiveWeight, rs.kernel?.connections])).toEqual([
      ['10.1.0.1:8080', 'up', 1, 1],
      ['10.1.0.2:8080', 'up', 2, 2],
      ['10.1.0.3:8080', 'up', 3, 3],
    ]);
    expect(s.vrrp.instances[0]).toMatchObject({ name: 'VI_1', state: 'master', priority: 150 });
  });

  it('vrrp prints the instances', async () => {
    const r = await ctl('vrrp');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]!.split(/\s{2,}/)).toEqual(['Instance', 'Interface', 'VRID', 'State', 'Priority', 'Base', 'Master', 'LastTransition', 'Fault']);
  });

  it('drain, weight and enable print what the server is now', async () => {
    expect(await ctl('drain', '10.99.0.100:80', '10.1.0.1:8080')).toEqual({ code: 0, stdout: 'tcp 10.99.0.100:80: 10.1.0.1:8080 drained\n', stderr: '' });
    expect((await ctl('weight', '10.99.0.100:80', '10.1.0.1:8080', '5')).stdout).toBe('tcp 10.99.0.100:80: 10.1.0.1:8080 weight 5\n');
    expect((await ctl('enable', '10.99.0.100:80', '10.1.0.1:8080')).stdout).toBe('tcp 10.99.0.100:80: 10.1.0.1:8080 no override\n');
  });

  it('an unknown virtual server is one sentence and exit 1', async () => {
    expect(await ctl('drain', '10.0.0.9:80', '10.1.0.1:8080')).toEqual({ code: 1, stdout: '', stderr: 'ipvsctl: no virtual server 10.0.0.9:80 in the running configuration\n' });
  });

  it('reload: ok, or the file errors and exit 1', async () => {
    reloadOk = true;
    expect(await ctl('reload')).toEqual({ code: 0, stdout: 'configuration reloaded\n', stderr: '' });
    reloadOk = false;
    const r = await ctl('reload');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('/etc/keepalived/keepalived.conf:4:5: error: unknown keyword `bogus`\nipvsctl: reload rejected; ipvsd keeps running the previous configuration\n');
  });

  it('usage errors exit 2', async () => {
    expect((await ctl()).code).toBe(2);
    expect((await ctl('frobnicate')).stderr).toMatch(/^ipvsctl: unknown command "frobnicate"\n/);
    expect((await ctl('drain', '10.99.0.100:80')).stderr).toMatch(/^ipvsctl: drain takes 2 argument\(s\)\n/);
    expect(await ctl('weight', '10.99.0.100:80', '10.1.0.1:8080', 'heavy')).toMatchObject({ code: 2, stderr: 'ipvsctl: "heavy" is not a weight (an integer from 0 to 2147483647)\n' });
    expect((await ctl('--help')).code).toBe(0);
  });

  it('without a daemon says so in one sentence and exits 1', async () => {
    const missing = join(dir, 'none.sock');
    for (const argv of [['status'], ['reload'], ['drain', '10.99.0.100:80', '10.1.0.1:8080']]) {
      expect(await ctl('--socket', missing, ...argv)).toEqual({ code: 1, stdout: '', stderr: `ipvsctl: cannot reach ipvsd at ${missing}: is it running?\n` });
    }
    let stderr = '';
    const code = await main(['status'], { stdout: () => {}, stderr: (t) => (stderr += t) }, { IPVSD_SOCKET: missing });
    expect([code, stderr]).toEqual([1, `ipvsctl: cannot reach ipvsd at ${missing}: is it running?\n`]);
  });

  it('check-config validates a file without a daemon', async () => {
    const good = join(dir, 'good.conf');
    const bad = join(dir, 'bad.conf');
    writeFileSync(good, webConfig(1));
    writeFileSync(bad, webConfig(1).replace('lb_algo wrr', 'lb_algo wrr\n    bogus_keyword 1'));
    expect(await ctl('--socket', join(dir, 'none.sock'), 'check-config', good)).toEqual({ code: 0, stdout: `${good}: valid\n`, stderr: '' });
    const r = await ctl('check-config', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${bad}:4:5: error: unknown keyword \`bogus_keyword\` in virtual_server\n`);
    expect(await ctl('check-config', join(dir, 'nope.conf'))).toMatchObject({ code: 1, stderr: `ipvsctl: cannot read ${join(dir, 'nope.conf')}: no such file\n` });
  });
});
