// notify_up / notify_down / quorum_up / quorum_down: which ones run at start, on a reload and at
// stop (omega), and how they run: exec'd with their own words only, in order per subject, a hung
// one killed, every outcome reported.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { LvsScripts, reloadScripts, startScripts, stopScripts, type LvsScriptCall, type LvsScriptOutcome } from '../../src/daemon/lvs-scripts.js';
import { applyReport, buildPools, type Pools } from '../../src/daemon/pools.js';
import { ProcessScriptRunner } from '../../src/vrrp/script-runner.js';

interface Shape {
  globals?: string;
  omega?: boolean;
  quorum?: number;
  sorry?: boolean;
  servers?: number[];
  alpha?: boolean;
  second?: boolean;
}

function conf(s: Shape = {}): string {
  const rs = (n: number) => `
    real_server 10.99.1.${n} 8080 {
        weight 1
        notify_up "/bin/up ${n}"
        notify_down "/bin/down ${n}"
        TCP_CHECK {
            connect_timeout 1
        }
    }`;
  const vs = (port: number) => `
virtual_server 10.99.0.100 ${port} {
    delay_loop 5
    lb_algo rr
    lb_kind NAT
    protocol TCP
    ${s.omega ? 'omega' : ''}
    ${s.alpha ? 'alpha' : ''}
    quorum ${s.quorum ?? 1}
    ${s.sorry ? 'sorry_server 10.99.9.9 8080' : ''}
    quorum_up "/bin/qup ${port}"
    quorum_down "/bin/qdown ${port}"
${(s.servers ?? [1, 2]).map(rs).join('')}
}`;
  return `global_defs {\n    enable_script_security\n${s.globals ?? ''}\n}\n${vs(80)}${s.second ? vs(81) : ''}\n`;
}

function pools(text: string, previous?: Pools): Pools {
  const { config, diagnostics } = loadConfigText(text, 'test.conf', { configId: 'lb1' });
  expect(config, diagnostics.map((d) => d.message).join('\n')).toBeDefined();
  return buildPools(config!, previous);
}

/** Reports one TCP_CHECK result for real server 10.99.1.N of the first virtual server. */
function check(p: Pools, n: number, ok: boolean, port = 80): void {
  const e = [...p.checkers.values()].find((c) => c.pool.name === `tcp 10.99.0.100:${port}` && c.realServer.address === `10.99.1.${n}`)!;
  const probe = { ok, reason: ok ? 'connected' : 'connection refused', durationMs: 1 };
  applyReport(e, { checkerId: e.id, probeKey: 'k', step: e.state.result(1000, probe), probe, latenessMs: 0, sharedBy: 1 });
}

const words = (calls: LvsScriptCall[]) => calls.map((c) => `${c.kind} ${c.virtualServer}${c.realServer ? ` ${c.realServer}` : ''}: ${c.script.argv.join(' ')}`);

describe('which LVS scripts run', () => {
  it('at start: nothing by default; notify_up for servers up with rs_init_notifies', () => {
    expect(startScripts(pools(conf()))).toEqual([]);
    expect(words(startScripts(pools(conf({ globals: 'rs_init_notifies' }))))).toEqual([
      'notify_up tcp 10.99.0.100:80 10.99.1.1:8080: /bin/up 1',
      'notify_up tcp 10.99.0.100:80 10.99.1.2:8080: /bin/up 2',
    ]);
    // alpha: nobody is up before a check passes.
    expect(startScripts(pools(conf({ globals: 'rs_init_notifies', alpha: true })))).toEqual([]);
  });

  it('at start: quorum_down when quorum starts down and a sorry server stands in, not without one', () => {
    expect(words(startScripts(pools(conf({ alpha: true, sorry: true }))))).toEqual(['quorum_down tcp 10.99.0.100:80: /bin/qdown 80']);
    expect(startScripts(pools(conf({ alpha: true })))).toEqual([]);
  });

  it('at stop: with omega, notify_down for each server still up, then quorum_down', () => {
    const p = pools(conf({ omega: true, second: true }));
    check(p, 2, false);
    expect(words(stopScripts(p, true))).toEqual([
      'notify_down tcp 10.99.0.100:80 10.99.1.1:8080: /bin/down 1',
      'quorum_down tcp 10.99.0.100:80: /bin/qdown 80',
      'notify_down tcp 10.99.0.100:81 10.99.1.1:8080: /bin/down 1',
      'notify_down tcp 10.99.0.100:81 10.99.1.2:8080: /bin/down 2',
      'quorum_down tcp 10.99.0.100:81: /bin/qdown 81',
    ]);
  });

  it('at stop: nothing without omega, nothing with -I, only quorum_down when the table is flushed whole', () => {
    expect(stopScripts(pools(conf()), true)).toEqual([]);
    expect(stopScripts(pools(conf({ omega: true })), false)).toEqual([]);
    for (const mode of ['lvs_flush_on_stop', 'lvs_flush_on_stop VS']) {
      expect(words(stopScripts(pools(conf({ omega: true, globals: mode })), true))).toEqual(['quorum_down tcp 10.99.0.100:80: /bin/qdown 80']);
    }
  });

  it('on reload: notify_down for a removed server that was up, none for one already down', () => {
    const before = pools(conf({ servers: [1, 2, 3] }));
    check(before, 3, false);
    const after = pools(conf({ servers: [1] }), before);
    expect(words(reloadScripts(before, after))).toEqual(['notify_down tcp 10.99.0.100:80 10.99.1.2:8080: /bin/down 2']);
  });

  it('on reload: a removed virtual server gets notify_down for its servers up and quorum_down', () => {
    const before = pools(conf({ second: true }));
    check(before, 1, false, 81);
    expect(words(reloadScripts(before, pools(conf(), before)))).toEqual([
      'notify_down tcp 10.99.0.100:81 10.99.1.2:8080: /bin/down 2',
      'quorum_down tcp 10.99.0.100:81: /bin/qdown 81',
    ]);
  });

  it('on reload: quorum_down / quorum_up where the new configuration moves a kept virtual server across its quorum', () => {
    const before = pools(conf());
    expect(reloadScripts(before, pools(conf({ quorum: 3, servers: [1, 2, 3] }), before))).toEqual([]);
    const lost = pools(conf({ quorum: 2, servers: [1, 2] }), before);
    expect(reloadScripts(before, lost)).toEqual([]);
    check(before, 2, false);
    const fewer = pools(conf({ quorum: 1, servers: [1] }), before);
    expect(reloadScripts(before, fewer)).toEqual([]);
    const down = pools(conf({ quorum: 2, servers: [1, 2] }), before);
    expect(words(reloadScripts(before, down))).toEqual(['quorum_down tcp 10.99.0.100:80: /bin/qdown 80']);
    expect(words(reloadScripts(down, pools(conf({ quorum: 1, servers: [1, 2] }), down)))).toEqual(['quorum_up tcp 10.99.0.100:80: /bin/qup 80']);
  });
});

describe('LvsScripts', () => {
  let dir: string;
  let record: string;
  let out: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ipvsd-lvs-scripts-'));
    out = join(dir, 'out');
    record = join(dir, 'record.sh');
    // Sleeps first when asked to, so order is tested against a slow predecessor.
    writeFileSync(record, `#!/bin/sh\n[ "$1" = slow ] && sleep 0.6\necho "$# $*" >> '${out}'\n`);
    chmodSync(record, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const call = (kind: LvsScriptCall['kind'], argv: string[], realServer?: string): LvsScriptCall => ({
    kind,
    virtualServer: 'tcp 10.99.0.100:80',
    ...(realServer ? { realServer } : {}),
    script: { argv, user: '', group: '' },
  });

  it('runs the script with exactly its configured words, in order per subject, and reports each outcome', async () => {
    const outcomes: LvsScriptOutcome[] = [];
    const scripts = new LvsScripts(new ProcessScriptRunner(), (o) => outcomes.push(o));
    scripts.run(call('notify_down', [record, 'slow', 'down', '10.99.1.1:8080', "it's down"], '10.99.1.1:8080'), 'transition');
    scripts.run(call('notify_up', [record, 'up', '10.99.1.1:8080'], '10.99.1.1:8080'), 'transition');
    scripts.run(call('quorum_up', [record, 'quorum', '$HOME', '*'], undefined), 'reload');
    await scripts.idle();
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    // No shell between: `$HOME` and `*` arrive as written, the quoted word as one argument.
    expect(lines.filter((l) => !l.includes('quorum'))).toEqual(["4 slow down 10.99.1.1:8080 it's down", '2 up 10.99.1.1:8080']);
    expect(lines).toContain('3 quorum $HOME *');
    // The other subject does not wait behind the slow one.
    expect(lines[0]).toBe('3 quorum $HOME *');
    expect(outcomes.map((o) => [o.kind, o.cause, o.realServer, o.result.exitCode])).toEqual([
      ['quorum_up', 'reload', undefined, 0],
      ['notify_down', 'transition', '10.99.1.1:8080', 0],
      ['notify_up', 'transition', '10.99.1.1:8080', 0],
    ]);
    expect(outcomes[1]!.argv).toEqual([record, 'slow', 'down', '10.99.1.1:8080', "it's down"]);
  });

  it('kills a script that hangs past its timeout and reports one that cannot start', async () => {
    const outcomes: LvsScriptOutcome[] = [];
    const scripts = new LvsScripts(new ProcessScriptRunner(), (o) => outcomes.push(o));
    const started = performance.now();
    scripts.run(call('quorum_down', ['/bin/sleep', '30']), 'stop', 200);
    scripts.run(call('notify_up', [join(dir, 'missing.sh')], '10.99.1.2:8080'), 'transition');
    await scripts.idle();
    expect(performance.now() - started).toBeLessThan(3000);
    const hung = outcomes.find((o) => o.kind === 'quorum_down')!;
    expect(hung.result).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGTERM' });
    expect(outcomes.find((o) => o.kind === 'notify_up')!.result.error).toMatch(/ENOENT/);
  });

  it('a throwing outcome callback does not stop the scripts queued after it', async () => {
    let seen = 0;
    const scripts = new LvsScripts(new ProcessScriptRunner(), () => {
      seen++;
      throw new Error('log sink broke');
    });
    scripts.run(call('notify_up', ['/bin/true'], 'a'), 'transition');
    scripts.run(call('notify_down', ['/bin/true'], 'a'), 'transition');
    await scripts.idle();
    expect(seen).toBe(2);
  });
});
