// MISC_CHECK: run misc_path (already split into argv) in its own process group. Exit 0 = up;
// with misc_dynamic, 2..255 = up with weight exit-2. On misc_timeout the group gets SIGTERM,
// then SIGKILL 2 s later.
// keepalived execve()s an executable script directly, as here. It falls back to system() (a
// shell) only for a file not executable by the script user, which then fails in the shell, and
// it counts a script that cannot be started as a success ("script errors aren't server
// errors"); here that is a failure that says why.
import { spawn, type ChildProcess } from 'node:child_process';
import type { MiscCheck } from '../src/config/model.js';
import { miscDynamicWeightAdjust } from '../src/health/real-server-state.js';
import { Attempt, probeKey, stepTimeout, type Probe, type ProbeResult } from './probe.js';
import { resolveIdentity, type Identity } from './script-identity.js';

const KILL_AFTER_MS = 2000;
const TIMEOUT_REASON = 'no exit within';

/** A failure because the script ran past misc_timeout (keepalived mails "timed out" for it, not "failed"). */
export function isMiscTimeout(reason: string): boolean {
  return reason.includes(`: ${TIMEOUT_REASON} `);
}

/** The end of the script's output kept for the failure message. */
const OUTPUT_TAIL = 200;

export function miscProbe(spec: MiscCheck, configuredWeight: number): Probe {
  const argv = spec.script.argv;
  const label = `script ${argv.map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ')}` + (spec.script.user ? ` as ${spec.script.user}` : '');
  let identity: Identity | undefined;
  let setupError: string | undefined;
  try {
    identity = resolveIdentity(spec.script.user, spec.script.group);
  } catch (err) {
    setupError = (err as Error).message;
  }
  if (argv.length === 0) setupError = 'misc_path is empty';

  function run(deadline: number): Promise<ProbeResult> {
    const attempt = new Attempt(label);
    if (setupError !== undefined) return Promise.resolve(attempt.fail(setupError));
    const timeout = stepTimeout(spec.timeoutMs, deadline);
    if (timeout <= 0) return Promise.resolve(attempt.fail('deadline passed before the start'));
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(argv[0]!, argv.slice(1), {
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
          ...(identity !== undefined && { uid: identity.uid, gid: identity.gid }),
        });
      } catch (err) {
        resolve(attempt.fail(`cannot start: ${(err as Error).message}`));
        return;
      }
      let tail = '';
      const keep = (chunk: Buffer): void => {
        tail = (tail + chunk.toString('utf8', Math.max(0, chunk.length - OUTPUT_TAIL))).slice(-OUTPUT_TAIL);
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      let done = false;
      const finish = (result: ProbeResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // Descendants may still hold the pipes; stop reading them so nothing waits on them.
        child.stdout!.destroy();
        child.stderr!.destroy();
        resolve(result);
      };
      const timer = setTimeout(() => {
        killGroup(child, 'SIGTERM');
        setTimeout(() => killGroup(child, 'SIGKILL'), KILL_AFTER_MS);
        finish(attempt.fail(`${TIMEOUT_REASON} ${Math.round(timeout)} ms; process group sent SIGTERM`));
      }, timeout);
      child.once('error', (err) => finish(attempt.fail(`cannot start: ${err.message}`)));
      child.once('exit', (code, signal) => {
        const said = tail.trim() === '' ? '' : ` (${tail.trim().split('\n').pop()})`;
        if (code === null) return finish(attempt.fail(`killed by ${signal}${said}`));
        // With misc_dynamic, exit 0 leaves the weight where it was, as keepalived does.
        if (code === 0) return finish(attempt.ok('exit 0'));
        if (spec.dynamic && code >= 2) {
          return finish(attempt.ok(`exit ${code}: weight ${code - 2}`, miscDynamicWeightAdjust(code, configuredWeight)));
        }
        finish(attempt.fail(`exit ${code}${said}`));
      });
    });
  }

  return {
    key: probeKey('MISC_CHECK', [argv, spec.script.user, spec.script.group, spec.timeoutMs, spec.dynamic, spec.dynamic ? configuredWeight : 0]),
    describe: () => label,
    run,
  };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the whole group has already gone.
  }
}
