// Runs a configured script as keepalived does: the words exec'd directly (no shell), as its user
// (the daemon fills in script_user's default at load), with a timeout after which the whole
// process group is killed (TERM, then KILL).
import { spawn } from 'node:child_process';
import { resolveIdentity } from '../../checkers/script-identity.js';
import type { Script } from '../config/model.js';

export interface ScriptResult {
  /** null when it was killed by a signal or never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
  /** Why it could not start (ENOENT, EACCES, unknown user). */
  error?: string;
}

export interface ScriptRunner {
  run(script: Script, extraArgs?: readonly string[], timeoutMs?: number): Promise<ScriptResult>;
}

export class ScriptUserError extends Error {
  readonly code = 'ESCRIPTUSER';
}

/** A hung script gets this long between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 1000;

export function scriptSucceeded(result: ScriptResult): boolean {
  return result.exitCode === 0 && !result.timedOut;
}

export class ProcessScriptRunner implements ScriptRunner {
  constructor(private readonly files: { passwd: string; group: string } = { passwd: '/etc/passwd', group: '/etc/group' }) {}

  run(script: Script, extraArgs: readonly string[] = [], timeoutMs?: number): Promise<ScriptResult> {
    const started = performance.now();
    const [file, ...args] = [...script.argv, ...extraArgs];
    const done = (partial: Omit<ScriptResult, 'durationMs'>): ScriptResult => ({ ...partial, durationMs: performance.now() - started });
    if (file === undefined) return Promise.resolve(done({ exitCode: null, signal: null, timedOut: false, error: 'empty command' }));
    let identity: { uid?: number; gid?: number };
    try {
      identity = this.identity(script);
    } catch (err) {
      return Promise.resolve(done({ exitCode: null, signal: null, timedOut: false, error: (err as Error).message }));
    }
    return new Promise((resolve) => {
      // detached: its own process group, so a timeout kills the children it started too.
      const child = spawn(file, args, { stdio: 'ignore', detached: true, ...identity });
      let timedOut = false;
      let killTimer: NodeJS.Timeout | undefined;
      const timeout =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              signalGroup(child.pid, 'SIGTERM');
              killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
            }, timeoutMs);
      const finish = (result: Omit<ScriptResult, 'durationMs' | 'timedOut'>) => {
        clearTimeout(timeout);
        clearTimeout(killTimer);
        resolve(done({ ...result, timedOut }));
      };
      child.once('error', (err) => finish({ exitCode: null, signal: null, error: err.message }));
      child.once('exit', (exitCode, signal) => {
        // The leader is gone; stragglers it left in the group go with it when it was timed out.
        if (timedOut) signalGroup(child.pid, 'SIGKILL');
        finish({ exitCode, signal });
      });
    });
  }

  private identity(script: Script): { uid?: number; gid?: number } {
    try {
      return resolveIdentity(script.user, script.group, this.files) ?? {};
    } catch (err) {
      throw new ScriptUserError((err as Error).message);
    }
  }
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
