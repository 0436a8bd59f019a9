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
/**
 * The tests' waits are bounds, not measurements: the guest's one CPU runs JavaScript 10-16x
 * slower than the host, and a loaded CI machine stretches that again. Every wait is this many
 * times the bound its test names (IPVSD_WAIT_FACTOR, default 2).
 */
export const waitFactor = Number(process.env.IPVSD_WAIT_FACTOR ?? 2);

/**
 * Polls `done` every `everyMs` until it holds or `timeoutMs` times the wait factor passed;
 * resolves with its last answer. Every wait of the lab goes through here.
 */
export async function until(done: () => boolean, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs * waitFactor;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
  return true;
}

export interface LogLine {
  event?: string;
  [field: string]: unknown;
}

export class IpvsdProcess {
  /** Every daemon a test started and that has not exited yet. */
  static readonly #running = new Set<IpvsdProcess>();
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
    IpvsdProcess.#running.add(this);
    this.child.once('exit', () => IpvsdProcess.#running.delete(this));
  }

  /** SIGKILLs the daemons still running and resolves with their pids once they exited. */
  static async killLeftovers(): Promise<number[]> {
    const left = [...IpvsdProcess.#running].filter((d) => d.alive);
    await Promise.all(left.map((d) => new Promise((r) => {
      d.child.once('exit', r);
      d.child.kill('SIGKILL');
    })));
    return left.map((d) => d.child.pid!);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  events(name: string): LogLine[] {
    return this.logs.filter((l) => l.event === name);
  }

  async waitForEvent(name: string, after: number, timeoutMs: number): Promise<LogLine> {
    return this.waitForLog((l) => l.event === name, after, timeoutMs, `${name} event`);
  }

  /** The first log line after `after` that `matches`; throws (naming `what`) if none comes or the daemon exits. */
  async waitForLog(matches: (l: LogLine) => boolean, after: number, timeoutMs: number, what: string): Promise<LogLine> {
    let found: LogLine | undefined;
    await until(() => (found = this.logs.slice(after).find(matches)) !== undefined || !this.alive, timeoutMs);
    if (found) return found;
    throw new Error(`no ${what} within ${timeoutMs * waitFactor} ms; stderr: ${this.stderr}; logs: ${JSON.stringify(this.logs.slice(after))}`);
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

/** Polls `ipvsadm -Sn` until it equals `want` (sorted), for `timeoutMs` times the wait factor; returns the milliseconds it took. */
export async function tableBecomes(want: string[], timeoutMs: number): Promise<number> {
  const started = performance.now();
  const expected = [...want].sort().join('\n');
  let current: string[] = [];
  if (await until(() => (current = savedRules()).join('\n') === expected, timeoutMs, 50)) return performance.now() - started;
  expect(current, `the table after ${timeoutMs * waitFactor} ms`).toEqual([...want].sort());
  return timeoutMs * waitFactor;
}

