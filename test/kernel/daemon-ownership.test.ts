// What ipvsd owns survives a restart: after kill -9 and a start with a configuration that dropped
// a service, that service goes and a foreign one (added with ipvsadm) stays; an unreadable
// ownership file only costs that memory. And the LVS scripts run for real: notify_down /
// notify_up on a real server's transitions, and with omega notify_down and quorum_down at stop.
// A weight set by misc_dynamic stays through a reload.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipvsadm, savedRules } from '../lab/ipvsadm.js';
import { cli, IpvsdProcess, tableBecomes, until } from '../lab/ipvsd-process.js';
import { assertInGuest } from '../lab/netns.js';
import { LoopbackListeners } from '../lab/loopback-listeners.js';

const foreign = ['-A -t 10.9.9.9:22 -s rr', '-a -t 10.9.9.9:22 -r 10.9.9.10:22 -g -w 1'];
const rules = (vip: string) => [`-A -t ${vip}:80 -s rr`, `-a -t ${vip}:80 -r 127.0.0.51:8080 -m -w 1`];
const key = (vip: string) => `tcp:${vip}:80`;
const [a, b, c] = ['10.97.0.1', '10.97.0.2', '10.97.0.3'];

/** Virtual servers with one real server and no checker (always up). */
function conf(...vips: string[]): string {
  return vips.map((vip) => `virtual_server ${vip} 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 127.0.0.51 8080 {\n    weight 1\n  }\n}\n`).join('');
}

let scratch: string;
let path: string;
let owned: string;
const daemons: IpvsdProcess[] = [];
const listeners = new LoopbackListeners();

function start(): IpvsdProcess {
  const d = new IpvsdProcess(['-f', path, '--socket', join(scratch, 'ipvsd.sock'), '--metrics-listen', 'none']);
  daemons.push(d);
  return d;
}

async function kill9(d: IpvsdProcess): Promise<void> {
  const exited = new Promise<void>((r) => d.child.once('exit', () => r()));
  d.child.kill('SIGKILL');
  await exited;
}

const ownedFile = () => (JSON.parse(readFileSync(owned, 'utf8')) as { services: string[] }).services;

beforeAll(() => {
  assertInGuest();
  expect(existsSync(cli), `${cli} is missing: run \`npm run build:ts\` first`).toBe(true);
  ipvsadm('-C');
  ipvsadm('-A', '-t', '10.9.9.9:22', '-s', 'rr');
  ipvsadm('-a', '-t', '10.9.9.9:22', '-r', '10.9.9.10:22', '-g');
  scratch = mkdtempSync(join(tmpdir(), 'ipvsd-ownership-'));
  path = join(scratch, 'keepalived.conf');
  owned = join(scratch, 'ipvsd.owned.json');
});

afterAll(async () => {
  for (const d of daemons) if (d.alive && d.child.pid !== undefined) process.kill(d.child.pid, 'SIGKILL');
  await listeners.closeAll();
  ipvsadm('-C');
  rmSync(scratch, { recursive: true, force: true });
});

describe('ownership across restarts', () => {
  it('records the services it adds next to the control socket', async () => {
    writeFileSync(path, conf(a, b));
    const d = start();
    await d.waitForEvent('started', 0, 20_000);
    expect(savedRules()).toEqual([...rules(a), ...rules(b), ...foreign].sort());
    expect(ownedFile()).toEqual([key(a), key(b)]);
    expect(d.events('ownership-unread')[0]).toMatchObject({ path: owned, reason: 'no ownership file' });
    await kill9(d);
    // kill -9: no cleanup at all.
    expect(savedRules()).toEqual([...rules(a), ...rules(b), ...foreign].sort());
  });

  it('after kill -9, a start with only A removes B and keeps the foreign service', async () => {
    writeFileSync(path, conf(a));
    const d = start();
    const started = await d.waitForEvent('started', 0, 20_000);
    expect(d.events('ownership-read')[0]).toMatchObject({ path: owned, services: 2 });
    expect(started.operations).toBe(1);
    expect(savedRules()).toEqual([...rules(a), ...foreign].sort());
    expect(ownedFile()).toEqual([key(a)]);
    await kill9(d);
  });

  it('a corrupt file is logged and means nothing owned: the start goes on and leaves A alone', async () => {
    writeFileSync(owned, '{"version":1,"services":["tcp:10.97');
    writeFileSync(path, conf(c));
    const d = start();
    await d.waitForEvent('started', 0, 20_000);
    expect(String(d.events('ownership-unread')[0]?.reason)).toMatch(/not JSON/);
    expect(savedRules()).toEqual([...rules(a), ...rules(c), ...foreign].sort());
    expect(ownedFile()).toEqual([key(c)]);
    // A clean stop removes what it owns and the file with it.
    await d.stop();
    expect(d.child.exitCode).toBe(0);
    expect(savedRules()).toEqual([...rules(a), ...foreign].sort());
    expect(existsSync(owned)).toBe(false);
    ipvsadm('-D', '-t', `${a}:80`);
  });
});

describe('LVS scripts', () => {
  it('runs notify_down / notify_up on transitions, and with omega notify_down and quorum_down at stop', async () => {
    const out = join(scratch, 'scripts.out');
    const record = join(scratch, 'record.sh');
    writeFileSync(record, `#!/bin/sh\necho "$*" >> '${out}'\n`);
    chmodSync(record, 0o755);
    const rs = (n: number) => `  real_server 127.0.0.${n} 8080 {
    weight 1
    notify_up "${record} up 127.0.0.${n}"
    notify_down "${record} down 127.0.0.${n}"
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
`;
    writeFileSync(
      path,
      `global_defs {\n  enable_script_security\n  script_user root\n}\nvirtual_server 10.97.0.9 80 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  omega\n  quorum_up "${record} quorum-up"\n  quorum_down "${record} quorum-down 10.97.0.9"\n${rs(52)}${rs(53)}}\n`,
    );
    for (const n of [52, 53]) await listeners.open(n);
    const lines = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : []);
    const scriptWrote = async (want: string, ms: number) => {
      await until(() => lines().includes(want), ms, 50);
      expect(lines()).toContain(want);
    };
    const d = start();
    await d.waitForEvent('started', 0, 20_000);
    await listeners.close(52);
    await scriptWrote('down 127.0.0.52', 6000);
    const ran = await d.waitForEvent('notify-script', 0, 2000);
    expect(ran).toMatchObject({ script: 'notify_down', cause: 'transition', virtualServer: 'tcp 10.97.0.9:80', realServer: '127.0.0.52:8080', argv: [record, 'down', '127.0.0.52'], exitCode: 0 });
    await listeners.open(52);
    await scriptWrote('up 127.0.0.52', 6000);
    await tableBecomes(['-A -t 10.97.0.9:80 -s rr', '-a -t 10.97.0.9:80 -r 127.0.0.52:8080 -m -w 1', '-a -t 10.97.0.9:80 -r 127.0.0.53:8080 -m -w 1', ...foreign], 3000);
    const before = lines().length;
    const ms = await d.stop();
    expect(d.child.exitCode).toBe(0);
    expect(ms).toBeLessThan(3000);
    expect(lines().slice(before).sort()).toEqual(['down 127.0.0.52', 'down 127.0.0.53', 'quorum-down 10.97.0.9']);
    expect(d.events('notify-script').filter((l) => l.cause === 'stop').map((l) => l.script).sort()).toEqual(['notify_down', 'notify_down', 'quorum_down']);
    expect(savedRules()).toEqual([...foreign].sort());
  });
});

describe('dynamic weights', () => {
  it('a reload of an unchanged configuration keeps the weight misc_dynamic set, with no operation', async () => {
    const check = join(scratch, 'weight.sh');
    // Exit 7 under misc_dynamic: weight 7 - 2 = 5.
    writeFileSync(check, '#!/bin/sh\nexit 7\n');
    chmodSync(check, 0o755);
    writeFileSync(
      path,
      `global_defs {\n  enable_script_security\n  script_user root\n}\nvirtual_server 10.97.0.10 80 {\n  delay_loop 1\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n  real_server 127.0.0.54 8080 {\n    weight 1\n    MISC_CHECK {\n      misc_path ${check}\n      misc_dynamic\n    }\n  }\n}\n`,
    );
    const weighted = ['-A -t 10.97.0.10:80 -s wrr', '-a -t 10.97.0.10:80 -r 127.0.0.54:8080 -m -w 5', ...foreign];
    const d = start();
    await d.waitForEvent('started', 0, 20_000);
    await tableBecomes(weighted, 6000);
    const mark = d.logs.length;
    d.child.kill('SIGHUP');
    const reloaded = await d.waitForEvent('reloaded', mark, 5000);
    expect(reloaded).toMatchObject({ adoptedCheckers: 1, operations: [] });
    expect(savedRules()).toEqual([...weighted].sort());
    await d.stop();
    expect(savedRules()).toEqual([...foreign].sort());
  });
});
