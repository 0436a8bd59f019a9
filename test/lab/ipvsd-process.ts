// A running `ipvsd -f CONF` for kernel tests: its JSON log lines, waiting for events, a timed stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { savedRules } from './ipvsadm.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
/** The compiled CLI; IPVSD_CLI points elsewhere when the build went to another directory. */
export const cli = process.env.IPVSD_CLI ?? join(repo, 'dist/src/cli/ipvsd.js');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LogLine {
  event?: string;
  [field: string]: unknown;
}

export class IpvsdProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  readonly spawnedAt = performance.now();
  stderr = '';

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let rest = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) if (line) this.logs.push(JSON.parse(line) as LogLine);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  events(name: string): LogLine[] {
    return this.logs.filter((l) => l.event === name);
  }

  async waitForEvent(name: string, after: number, timeoutMs: number): Promise<LogLine> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.logs.slice(after).find((l) => l.event === name);
      if (found) return found;
      if (performance.now() > deadline || !this.alive) throw new Error(`no ${name} event within ${timeoutMs} ms; stderr: ${this.stderr}; logs: ${JSON.stringify(this.logs.slice(after))}`);
      await sleep(20);
    }
  }

  /** Sends SIGTERM and resolves with the milliseconds until the process exited. */
  async stop(): Promise<number> {
    if (!this.alive) return 0;
    const exited = new Promise<number>((r) => this.child.once('exit', () => r(performance.now())));
    // 'close' comes once stdout is drained, so the last log lines are in.
    const closed = new Promise<void>((r) => this.child.once('close', () => r()));
    const sent = performance.now();
    this.child.kill('SIGTERM');
    const exitedAt = await exited;
    await closed;
    return exitedAt - sent;
  }
}

/** Polls `ipvsadm -Sn` until it equals `want` (sorted); returns the milliseconds it took. */
export async function tableBecomes(want: string[], timeoutMs: number): Promise<number> {
  const started = performance.now();
  const expected = [...want].sort();
  let current: string[] = [];
  while (performance.now() - started < timeoutMs) {
    current = savedRules();
    if (current.join('\n') === expected.join('\n')) return performance.now() - started;
    await sleep(50);
  }
  expect(current).toEqual(expected);
  return timeoutMs;
}

