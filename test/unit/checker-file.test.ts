import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileProbe, judgeTrackValue, parseTrackValue, type FileProbe } from '../../checkers/file.js';
import type { ProbeResult } from '../../checkers/probe.js';
import type { FileCheck } from '../../src/config/model.js';

let dir: string;
const probes: FileProbe[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-file-'));
});
afterEach(() => {
  for (const p of probes.splice(0)) p.close?.();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spec = (weight: number, reverse = false): FileCheck => ({
  type: 'FILE_CHECK',
  pos: { file: 'test.conf', line: 1, column: 1 },
  trackFile: 'tf',
  weight,
  reverse,
});

function make(path: string, weight: number, reverse = false): FileProbe {
  const probe = fileProbe(spec(weight, reverse), path);
  probes.push(probe);
  return probe;
}

/** Resolves with the next change the probe reports. */
const nextChange = (probe: FileProbe): Promise<ProbeResult> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no change reported within 2 s')), 2000);
    const off = probe.onChange((r) => {
      clearTimeout(timer);
      off();
      resolve(r);
    });
  });

describe('track file values', () => {
  it('reads a leading integer as strtol base 0 does, else 0, and ignores one out of range', () => {
    expect(parseTrackValue('42\n')).toBe(42);
    expect(parseTrackValue('  -7 trailing')).toBe(-7);
    expect(parseTrackValue('0x1F')).toBe(31);
    expect(parseTrackValue('010')).toBe(8);
    expect(parseTrackValue('08')).toBe(0);
    expect(parseTrackValue('abc')).toBe(0);
    expect(parseTrackValue('')).toBe(0);
    expect(parseTrackValue(undefined)).toBe(0);
    expect(parseTrackValue('-0')).toBe(0);
    expect(parseTrackValue('2147483648')).toBe(2147483648);
    expect(parseTrackValue('99999999999')).toBeUndefined();
    expect(parseTrackValue(' '.repeat(130) + '5')).toBe(0);
  });

  it('judges as keepalived: weight 0 means non-zero is down; else value × weight, down at INT32_MIN', () => {
    expect(judgeTrackValue(0, 0, false)).toEqual({ ok: true, detail: 'value 0' });
    expect(judgeTrackValue(1, 0, false).ok).toBe(false);
    expect(judgeTrackValue(0, 0, true).ok).toBe(false);
    expect(judgeTrackValue(-3, 0, true)).toEqual({ ok: true, detail: 'value -3' });
    expect(judgeTrackValue(2147483647, 2, false)).toMatchObject({ ok: true, weightAdjust: 2147483647 });
    expect(judgeTrackValue(3, 5, false)).toMatchObject({ ok: true, weightAdjust: 15 });
    expect(judgeTrackValue(3, 5, true)).toMatchObject({ ok: true, weightAdjust: -15 });
    expect(judgeTrackValue(-2147483648, 1, false).ok).toBe(false);
    expect(judgeTrackValue(-2147483647, 1, false).ok).toBe(true);
  });
});

describe('FILE_CHECK', () => {
  it('reports the value at creation and every change written in place', async () => {
    const path = join(dir, 'inplace');
    writeFileSync(path, '2\n');
    const probe = make(path, 10);
    expect(probe.describe()).toBe(`track file ${path}`);
    expect(await probe.run(0)).toMatchObject({ ok: true, weightAdjust: 20, reason: `track file ${path}: value 2, weight +20` });
    const changed = nextChange(probe);
    writeFileSync(path, '-1\n');
    expect(await changed).toMatchObject({ ok: true, weightAdjust: -10 });
    expect(await probe.run(0)).toMatchObject({ weightAdjust: -10 });
  });

  it('follows a file replaced by rename, deleted, and created again', async () => {
    const path = join(dir, 'renamed');
    writeFileSync(path, '0');
    const probe = make(path, 0);
    expect((await probe.run(0)).ok).toBe(true);
    let changed = nextChange(probe);
    writeFileSync(join(dir, 'renamed.tmp'), '1');
    renameSync(join(dir, 'renamed.tmp'), path);
    expect(await changed).toMatchObject({ ok: false, reason: `track file ${path}: value 1 (weight 0)` });
    changed = nextChange(probe);
    rmSync(path);
    expect(await changed).toMatchObject({ ok: true });
    changed = nextChange(probe);
    writeFileSync(path, '5');
    expect((await changed).ok).toBe(false);
  });

  it('treats a missing file and directory as 0 and picks them up once they appear', async () => {
    const sub = join(dir, 'later');
    const path = join(sub, 'value');
    const probe = make(path, 1, true);
    expect(await probe.run(0)).toMatchObject({ ok: true, weightAdjust: 0 });
    mkdirSync(sub);
    writeFileSync(path, '4');
    expect(await probe.run(0)).toMatchObject({ ok: true, weightAdjust: -4 });
  });

  it('keeps the previous value when the file holds a number out of range', async () => {
    const path = join(dir, 'range');
    writeFileSync(path, '3');
    const probe = make(path, 1);
    writeFileSync(path, '99999999999');
    await new Promise((r) => setTimeout(r, 100));
    const changed = nextChange(probe);
    expect(await probe.run(0)).toMatchObject({ weightAdjust: 3 });
    writeFileSync(path, '4');
    expect(await changed).toMatchObject({ weightAdjust: 4 });
  });

  it('stops watching on close', async () => {
    const path = join(dir, 'closed');
    writeFileSync(path, '1');
    const probe = make(path, 1);
    let calls = 0;
    probe.onChange(() => calls++);
    probe.close?.();
    writeFileSync(path, '2');
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(0);
  });

  it('keys on path, weight and reverse', () => {
    const a = fileProbe(spec(1), '/x');
    const b = fileProbe(spec(1), '/x');
    const c = fileProbe(spec(1, true), '/x');
    [a, b, c].forEach((p) => probes.push(p));
    expect(a.key).toBe(b.key);
    expect(a.key).not.toBe(c.key);
  });
});
