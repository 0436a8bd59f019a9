import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { miscProbe } from '../../checkers/misc.js';
import { resolveIdentity } from '../../checkers/script-identity.js';
import { miscSpec } from '../fixtures/checkers/specs.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-misc-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const soon = (ms = 5000): number => performance.now() + ms;
const sh = (script: string, extra: Parameters<typeof miscSpec>[1] = {}) => miscSpec(['/bin/sh', '-c', script], extra);
/** A zombie counts as gone: it has exited and waits only to be reaped. */
const alive = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
};

describe('MISC_CHECK', () => {
  it('is up on exit 0 and down on any other exit, saying the last line of output', async () => {
    const ok = await miscProbe(sh('exit 0'), 10).run(soon());
    expect(ok).toMatchObject({ ok: true, reason: 'script /bin/sh -c "exit 0": exit 0' });
    expect(ok.weightAdjust).toBeUndefined();
    const bad = await miscProbe(sh('echo checking; echo "backend down" >&2; exit 3'), 10).run(soon());
    expect(bad).toMatchObject({ ok: false, reason: 'script /bin/sh -c "echo checking; echo \\"backend down\\" >&2; exit 3": exit 3 (backend down)' });
    expect(bad.hard).toBeUndefined();
  });

  it('runs argv without a shell', async () => {
    const marker = join(dir, 'argv');
    const probe = miscProbe(miscSpec(['/usr/bin/touch', `${marker} $(whoami)`]), 1);
    expect((await probe.run(soon())).ok).toBe(true);
    expect(readFileSync(`${marker} $(whoami)`, 'utf8')).toBe('');
  });

  it('with misc_dynamic, exit 2..255 is up with weight exit-2 relative to the configured weight, exit 0 keeps it', async () => {
    const w = await miscProbe(sh('exit 7', { dynamic: true }), 10).run(soon());
    expect(w).toMatchObject({ ok: true, reason: 'script /bin/sh -c "exit 7": exit 7: weight 5', weightAdjust: 5 - 10 });
    expect(await miscProbe(sh('exit 2', { dynamic: true }), 3).run(soon())).toMatchObject({ ok: true, weightAdjust: -3 });
    const zero = await miscProbe(sh('exit 0', { dynamic: true }), 3).run(soon());
    expect(zero.ok).toBe(true);
    expect(zero.weightAdjust).toBeUndefined();
    expect(await miscProbe(sh('exit 1', { dynamic: true }), 3).run(soon())).toMatchObject({ ok: false });
    expect(await miscProbe(sh('exit 9'), 3).run(soon())).toMatchObject({ ok: false });
  });

  it('terminates a hung script group on misc_timeout, and SIGKILLs it 2 s later if it ignores SIGTERM', async () => {
    const pidFile = join(dir, 'pids');
    const script = `sleep 30 & echo $$ $! > ${pidFile}; trap "" TERM; while :; do sleep 0.05; done`;
    const started = performance.now();
    const result = await miscProbe(sh(script, { timeoutMs: 300 }), 1).run(soon());
    expect(result.ok).toBe(false);
    expect(result.reason).toContain('no exit within 300 ms; process group sent SIGTERM');
    expect(performance.now() - started).toBeLessThan(4000);
    const [shellPid, sleepPid] = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number) as [number, number];
    // sleep has no TERM trap: gone at once. The shell ignores TERM: gone after the SIGKILL.
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(sleepPid)).toBe(false);
    expect(alive(shellPid)).toBe(true);
    await new Promise((r) => setTimeout(r, 2200));
    expect(alive(shellPid)).toBe(false);
  });

  it('stops at the overall deadline when it is earlier than misc_timeout', async () => {
    const result = await miscProbe(sh('sleep 5', { timeoutMs: 10_000 }), 1).run(soon(200));
    expect(result.ok).toBe(false);
    expect(result.durationMs).toBeLessThan(3000);
  });

  it('drains huge output without blocking', async () => {
    const result = await miscProbe(sh('head -c 20000000 /dev/zero; head -c 5000000 /dev/zero >&2; echo done'), 1).run(soon(10_000));
    expect(result).toMatchObject({ ok: true });
  });

  it('does not wait for a background child that keeps the pipes open', async () => {
    const result = await miscProbe(sh('sleep 3 & exit 0'), 1).run(soon());
    expect(result.ok).toBe(true);
    expect(result.durationMs).toBeLessThan(2500);
  });

  it('runs as the configured user and group', async () => {
    const identity = resolveIdentity('nobody', '')!;
    expect(identity.uid).toBeGreaterThan(0);
    const asUser = miscSpec(['/bin/sh', '-c', `test "$(id -u)" = ${identity.uid} && test "$(id -g)" = ${identity.gid}`]);
    asUser.script.user = 'nobody';
    expect((await miscProbe(asUser, 1).run(soon())).ok).toBe(true);
    const withGroup = miscSpec(['/bin/sh', '-c', `test "$(id -u)" = ${identity.uid} && test "$(id -g)" = 0`]);
    withGroup.script.user = 'nobody';
    withGroup.script.group = 'root';
    expect((await miscProbe(withGroup, 1).run(soon())).ok).toBe(true);
    expect((await miscProbe(miscSpec(['/bin/sh', '-c', `test "$(id -u)" = ${identity.uid}`]), 1).run(soon())).ok).toBe(false);
  });

  it('reports a missing program, an unknown user and an empty misc_path', async () => {
    expect((await miscProbe(miscSpec(['/nonexistent/check']), 1).run(soon())).reason).toContain('cannot start');
    const spec = miscSpec(['/bin/true']);
    spec.script.user = 'no-such-user-ipvsd';
    expect((await miscProbe(spec, 1).run(soon())).reason).toContain('no user "no-such-user-ipvsd"');
    expect((await miscProbe(miscSpec([]), 1).run(soon())).reason).toContain('misc_path is empty');
  });

  it('resolves names and numbers from passwd and group files', () => {
    const passwd = join(dir, 'passwd');
    const group = join(dir, 'group');
    writeFileSync(passwd, 'root:x:0:0::/root:/bin/sh\nweb:x:1001:1002::/srv:/bin/false\n');
    writeFileSync(group, 'root:x:0:\nstaff:x:50:\n');
    const files = { passwd, group };
    expect(resolveIdentity('', '', files)).toBeUndefined();
    expect(resolveIdentity('web', '', files)).toEqual({ uid: 1001, gid: 1002 });
    expect(resolveIdentity('web', 'staff', files)).toEqual({ uid: 1001, gid: 50 });
    expect(resolveIdentity('4000', '', files)).toEqual({ uid: 4000, gid: 4000 });
    expect(() => resolveIdentity('web', 'nogroup-x', files)).toThrow(/no group/);
  });
});
