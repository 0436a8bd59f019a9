// FILE_CHECK: the number in a track file times the checker's weight (negated with `reverse`)
// adjusts the real server's weight; with weight 0 any non-zero value means down. The file is
// watched (through its directory, so it may be absent, created, or replaced by rename) and
// re-read on every change; run() reports the value from the latest read.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { FileCheck } from '../src/config/model.js';
import { fileCheckWeightAdjust } from '../src/health/real-server-state.js';
import { Attempt, probeKey, type Probe, type ProbeResult } from './probe.js';

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

export interface FileProbe extends Probe {
  /** Called with the new result after every re-read that changed the value; returns an unsubscribe. */
  onChange(listener: (result: ProbeResult) => void): () => void;
}

/** keepalived reads at most this much of the file. */
const READ_LIMIT = 127;

/**
 * The value keepalived reads: strtol with base 0 (decimal, 0x hex, 0 octal) over the first 127
 * bytes; no number, an empty file or a missing file is 0. A number outside the 32-bit range is
 * ignored (undefined: the previous value stands).
 */
export function parseTrackValue(text: string | undefined): number | undefined {
  if (text === undefined) return 0;
  const match = /^\s*([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))/.exec(text.slice(0, READ_LIMIT));
  if (match === null) return 0;
  const [, sign, hex, octal, decimal] = match;
  const magnitude = hex !== undefined ? parseInt(hex, 16) : octal !== undefined ? parseInt(octal, 8) : Number(decimal);
  const value = sign === '-' ? -magnitude : magnitude;
  // keepalived's bound: INT32_MAX + 1 still passes.
  if (value < INT32_MIN || value > INT32_MAX + 1) return undefined;
  return value + 0;
}

/** The check's verdict for one value: down, or up with a weight adjustment. */
export function judgeTrackValue(value: number, weight: number, reverse: boolean): { ok: boolean; weightAdjust?: number; detail: string } {
  if (weight === 0) {
    // Weight 0: a non-zero value is down; reversed, a zero value is.
    const down = reverse ? value === 0 : value !== 0;
    return down ? { ok: false, detail: `value ${value}${reverse ? ' (reverse, weight 0)' : ' (weight 0)'}` } : { ok: true, detail: `value ${value}` };
  }
  // "+ 0" turns the -0 of a reversed zero into 0.
  const adjust = Math.min(INT32_MAX, Math.max(INT32_MIN, fileCheckWeightAdjust(value, weight, reverse))) + 0;
  if (adjust === INT32_MIN) return { ok: false, detail: `value ${value} × weight ${reverse ? -weight : weight} is at or below the minimum` };
  return { ok: true, weightAdjust: adjust, detail: `value ${value}, weight ${adjust >= 0 ? '+' : ''}${adjust}` };
}

export function fileProbe(spec: FileCheck, path: string): FileProbe {
  const label = `track file ${path}`;
  const listeners = new Set<(result: ProbeResult) => void>();
  let value = parseTrackValue(readQuietly(path)) ?? 0;
  let reads = 0;
  let watcher: FSWatcher | undefined;
  let closed = false;

  const result = (): ProbeResult => {
    const attempt = new Attempt(label);
    const verdict = judgeTrackValue(value, spec.weight, spec.reverse);
    return verdict.ok ? attempt.ok(verdict.detail, verdict.weightAdjust) : attempt.fail(verdict.detail);
  };

  const reread = async (): Promise<void> => {
    const mine = ++reads;
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      text = undefined;
    }
    // A later read has started: its answer is the newer one.
    if (mine !== reads || closed) return;
    const next = parseTrackValue(text);
    if (next === undefined || next === value) return;
    value = next;
    const now = result();
    for (const listener of listeners) listener(now);
  };

  const startWatching = (): void => {
    if (watcher !== undefined || closed) return;
    const name = basename(path);
    try {
      watcher = watch(dirname(path), { persistent: false }, (_event, changed) => {
        if (changed === null || changed.toString() === name) void reread();
      });
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      // The directory does not exist yet: run() retries and re-reads meanwhile.
      watcher = undefined;
    }
  };
  startWatching();

  return {
    key: probeKey('FILE_CHECK', [path, spec.weight, spec.reverse]),
    describe: () => label,
    async run(): Promise<ProbeResult> {
      if (watcher === undefined) {
        startWatching();
        await reread();
      }
      return result();
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      listeners.clear();
      watcher?.close();
      watcher = undefined;
    },
  };
}

function readQuietly(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
