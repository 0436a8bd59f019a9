import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Script, VrrpNotify } from '../../src/config/model.js';
import { InstanceNotifier } from '../../src/vrrp/notify.js';
import { ProcessScriptRunner, type ScriptResult, type ScriptRunner } from '../../src/vrrp/script-runner.js';

const script = (...argv: string[]): Script => ({ argv, user: '', group: '' });
const none: VrrpNotify = { master: undefined, backup: undefined, fault: undefined, stop: undefined, deleted: undefined, any: undefined, masterRxLowerPri: undefined };

/** Records start and end of each run; the first run is slow, to show later ones wait for it. */
class SlowRunner implements ScriptRunner {
  readonly events: string[] = [];
  private first = true;
  async run(s: Script, extra: readonly string[] = []): Promise<ScriptResult> {
    const line = [...s.argv, ...extra].join(' ');
    this.events.push(`start ${line}`);
    const delay = this.first ? 30 : 1;
    this.first = false;
    await new Promise((r) => setTimeout(r, delay));
    this.events.push(`end ${line}`);
    return { exitCode: line.includes('fail') ? 1 : 0, signal: null, timedOut: false, durationMs: delay };
  }
}

describe('InstanceNotifier', () => {
  it('runs the state script then the generic one with INSTANCE name STATE priority, one at a time in order', async () => {
    const runner = new SlowRunner();
    const n = new InstanceNotifier('VI_1', { ...none, master: script('/m'), backup: script('/b', 'x'), any: script('/any') }, runner);
    n.transition('BACKUP', 100);
    n.transition('MASTER', 100);
    n.transition('FAULT', 90);
    expect(n.queued).toBe(5);
    await n.idle();
    expect(runner.events).toEqual([
      'start /b x', 'end /b x',
      'start /any INSTANCE VI_1 BACKUP 100', 'end /any INSTANCE VI_1 BACKUP 100',
      'start /m', 'end /m',
      'start /any INSTANCE VI_1 MASTER 100', 'end /any INSTANCE VI_1 MASTER 100',
      'start /any INSTANCE VI_1 FAULT 90', 'end /any INSTANCE VI_1 FAULT 90',
    ]);
    expect(n.ran).toBe(5);
    expect(n.queued).toBe(0);
  });

  it('a sync group\'s generic notify gets GROUP name STATE priority', async () => {
    const runner = new SlowRunner();
    const n = new InstanceNotifier('G', { ...none, any: script('/any') }, runner, undefined, undefined, 'GROUP');
    n.transition('MASTER', 0);
    await n.idle();
    expect(runner.events).toEqual(['start /any GROUP G MASTER 0', 'end /any GROUP G MASTER 0']);
  });

  it('keeps the failures', async () => {
    const n = new InstanceNotifier('VI_1', { ...none, stop: script('/fail') }, new SlowRunner());
    n.transition('STOP', 100);
    await n.idle();
    expect(n.failures.map((f) => [f.state, f.argv, f.result.exitCode])).toEqual([['STOP', ['/fail'], 1]]);
  });
});

describe('ProcessScriptRunner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipvsd-script-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const runner = new ProcessScriptRunner();

  it('execs the words directly, without a shell, with the extra arguments appended', async () => {
    const out = join(dir, 'args');
    const path = join(dir, 'record.sh');
    writeFileSync(path, `#!/bin/sh\nprintf '%s|' "$@" > ${out}\nexit 3\n`);
    chmodSync(path, 0o755);
    const r = await runner.run(script(path, 'a b', '$HOME', ';true'), ['INSTANCE', 'VI_1']);
    expect(r).toMatchObject({ exitCode: 3, timedOut: false });
    expect(readFileSync(out, 'utf8')).toBe('a b|$HOME|;true|INSTANCE|VI_1|');
  });

  it('reports a missing program', async () => {
    const r = await runner.run(script(join(dir, 'nope')));
    expect(r.exitCode).toBeNull();
    expect(r.error).toMatch(/ENOENT/);
  });

  it('kills a hung script and its children after the timeout', async () => {
    const path = join(dir, 'hang.sh');
    // The child ignores TERM, so only the group KILL ends it.
    writeFileSync(path, `#!/bin/sh\ntrap '' TERM\nsleep 30 &\necho $! > ${dir}/child\nwait\n`);
    chmodSync(path, 0o755);
    const r = await runner.run(script(path), [], 150);
    expect(r.timedOut).toBe(true);
    expect(r.durationMs).toBeGreaterThanOrEqual(150);
    expect(r.durationMs).toBeLessThan(3000);
    const child = Number(readFileSync(join(dir, 'child'), 'utf8'));
    await new Promise((res) => setTimeout(res, 100));
    // Gone, or a zombie waiting for init to reap it: either way no longer running.
    let state = 'gone';
    try {
      state = readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]!.charAt(0);
    } catch {
      // no such process
    }
    expect(['gone', 'Z', 'X']).toContain(state);
  });

  it('refuses an unknown user', async () => {
    const r = await runner.run({ argv: ['/bin/true'], user: 'no-such-user-ipvsd', group: '' });
    expect(r.error).toBe('no user "no-such-user-ipvsd"');
  });
});
