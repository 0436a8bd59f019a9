#!/usr/bin/env node
// @ts-check
// Runs one command inside a fresh User-Mode Linux guest that has the real IPVS modules.
// The guest's root is the host's root (hostfs), so the checkout, node and node_modules are
// visible at the same paths; see test/lab/README.md and /work/shared/KERNEL-LAB.md.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guestInitScript } from './init-script.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** IPVSD_LAB_KERNEL points at another UML kernel binary (same modules directory layout). */
export const UML_KERNEL = process.env.IPVSD_LAB_KERNEL ?? '/usr/bin/linux.uml';
export const UML_MODULES_ROOT = '/usr/lib/uml/modules';

/** Loaded in this order when present; `ip_vs` is the only one that must exist. */
export const DEFAULT_MODULES = [
  'ip_vs',
  'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_lc', 'ip_vs_wlc', 'ip_vs_lblc', 'ip_vs_lblcr', 'ip_vs_dh',
  'ip_vs_sh', 'ip_vs_sed', 'ip_vs_nq', 'ip_vs_mh', 'ip_vs_fo', 'ip_vs_ovf', 'ip_vs_twos',
  'ip_vs_pe_sip',
  'veth', 'bridge', 'dummy', 'ipip', 'ip_gre', 'fou', 'fou6', 'tun',
  'x_tables', 'iptable_filter',
];

/** Guest tmpfs, created by the init script. */
export const GUEST_HOME = '/tmp/home';

/** Exit code reported when the host-side timeout stopped the guest, as timeout(1) does. */
export const TIMEOUT_EXIT_CODE = 124;

/**
 * Why the lab could not run a command. `LAB_NO_KERNEL` and `LAB_BOOT_FAILED` mean the guest
 * never ran the command ("cannot boot"); `LAB_GUEST_DIED` means it stopped half-way.
 */
export class LabError extends Error {
  /**
   * @param {'LAB_NO_KERNEL' | 'LAB_BOOT_FAILED' | 'LAB_GUEST_DIED' | 'LAB_BAD_OPTION'} code
   * @param {string} message
   * @param {string} [workDir]
   */
  constructor(code, message, workDir) {
    super(message);
    this.name = 'LabError';
    this.code = code;
    this.workDir = workDir;
  }

  get cannotBoot() {
    return this.code === 'LAB_NO_KERNEL' || this.code === 'LAB_BOOT_FAILED';
  }
}

/**
 * @typedef {object} GuestOptions
 * @property {string | string[]} command  a shell line (run by /bin/sh -c) or an argv
 * @property {string[]} [modules]  modules to modprobe, default DEFAULT_MODULES that exist
 * @property {number} [timeoutMs]  host-side limit for boot + command, default 10 minutes
 * @property {Record<string, string>} [env]  added to the guest command's clean environment
 * @property {string} [memory]  guest RAM, as linux.uml takes it (default "1G")
 * @property {string} [cwd]  guest working directory, default the repository root
 * @property {boolean | NodeJS.WritableStream} [stream]  copy the output live (true: stdout)
 */

/**
 * @typedef {object} GuestTimings
 * @property {number} bootMs  host spawn to the guest's init starting
 * @property {number} modulesMs  mounts and modprobe calls
 * @property {number} commandMs  the command itself, in guest time
 * @property {number} totalMs  host spawn to the UML process exiting
 */

/**
 * @typedef {object} GuestResult
 * @property {number} exitCode
 * @property {boolean} timedOut
 * @property {string} output  the command's stdout and stderr, interleaved
 * @property {number} durationMs
 * @property {string} workDir
 * @property {GuestTimings | undefined} timings
 * @property {string[]} missingModules  requested modules that modprobe could not load
 */

/**
 * Boots a guest, runs the command in it as root and powers it off.
 * @param {GuestOptions} options
 * @returns {Promise<GuestResult>}
 */
export async function runInGuest(options) {
  // The guest mounts its own tmpfs over these, so a checkout there is invisible inside it.
  if (/^\/(tmp|run|var\/run)(\/|$)/.test(REPO_ROOT)) {
    throw new LabError('LAB_BOOT_FAILED', `cannot boot the UML kernel lab: the checkout ${REPO_ROOT} is under a directory the guest replaces with its own tmpfs; clone it elsewhere`);
  }
  const kernel = findKernel();
  const memory = options.memory ?? '1G';
  if (!/^\d+[KMG]?$/.test(memory)) {
    throw new LabError('LAB_BAD_OPTION', `guest memory "${memory}" is not a size such as 512M or 1G`);
  }
  const known = (/** @type {string} */ name) => kernel.modules.has(name) || kernel.builtin.has(name);
  const modules = options.modules ?? DEFAULT_MODULES.filter(known);
  const unknown = modules.filter((name) => !known(name));
  if (unknown.length > 0) {
    throw new LabError('LAB_BAD_OPTION', `the UML kernel ${kernel.version} has no module ${unknown.join(', ')}`);
  }

  const workDir = await newWorkDir();
  const initPath = join(workDir, 'init.sh');
  writeFileSync(initPath, guestInitScript({
    workDir,
    cwd: options.cwd ?? REPO_ROOT,
    kernelVersion: kernel.version,
    modulesDir: kernel.modulesDir,
    modules: modules.filter((name) => !kernel.builtin.has(name)),
    command: options.command,
    env: guestEnvironment(workDir, options.env ?? {}),
    home: GUEST_HOME,
  }), { mode: 0o755 });

  const timeoutMs = options.timeoutMs ?? 600_000;
  const started = Date.now();
  const exit = await bootGuest(kernel.path, memory, initPath, workDir, timeoutMs, streamOf(options.stream));
  const durationMs = Date.now() - started;

  const output = readIfExists(join(workDir, 'output.log')) ?? '';
  const status = readIfExists(join(workDir, 'exit-status'));
  const commandStarted = existsSync(join(workDir, 'command-started'));
  const missingModules = (readIfExists(join(workDir, 'modprobe-failed')) ?? '').split('\n').filter(Boolean);
  const timings = readTimings(workDir, durationMs);
  if (status !== undefined && /^\d+\s*$/.test(status)) {
    return { exitCode: Number(status), timedOut: false, output, durationMs, workDir, timings, missingModules };
  }
  if (exit.timedOut && commandStarted) {
    return { exitCode: TIMEOUT_EXIT_CODE, timedOut: true, output, durationMs, workDir, timings, missingModules };
  }
  if (commandStarted) {
    throw new LabError('LAB_GUEST_DIED',
      `the UML guest stopped before the command finished (${exit.how}); its console is in ${join(workDir, 'console.log')}`, workDir);
  }
  const why = exit.timedOut ? `it did not start the command within ${timeoutMs} ms` : `the kernel ${exit.how} before starting the command`;
  throw new LabError('LAB_BOOT_FAILED',
    `cannot boot the UML kernel lab: ${why}; its console is in ${join(workDir, 'console.log')}`, workDir);
}

/**
 * The kernel, its version (read from the modules directory name) and which modules it has.
 * @returns {{ path: string, version: string, modulesDir: string, modules: Set<string>, builtin: Set<string> }}
 */
export function findKernel() {
  try {
    accessSync(UML_KERNEL, constants.X_OK);
  } catch {
    throw new LabError('LAB_NO_KERNEL',
      `cannot boot the UML kernel lab: ${UML_KERNEL} is missing (install the Debian package user-mode-linux)`);
  }
  const versions = existsSync(UML_MODULES_ROOT) ? readdirSync(UML_MODULES_ROOT) : [];
  if (versions.length !== 1) {
    const found = versions.length === 0 ? 'none' : versions.join(', ');
    throw new LabError('LAB_NO_KERNEL',
      `cannot boot the UML kernel lab: expected one kernel version in ${UML_MODULES_ROOT}, found ${found}`);
  }
  const version = versions[0];
  const modulesDir = join(UML_MODULES_ROOT, version);
  const modules = moduleNames(readIfExists(join(modulesDir, 'modules.dep')) ?? '', /^([^:]+):/gm);
  const builtin = moduleNames(readIfExists(join(modulesDir, 'modules.builtin')) ?? '', /^(\S+)$/gm);
  if (!modules.has('ip_vs') && !builtin.has('ip_vs')) {
    throw new LabError('LAB_NO_KERNEL', `cannot boot the UML kernel lab: the UML kernel ${version} has no ip_vs module in ${modulesDir}`);
  }
  return { path: UML_KERNEL, version, modulesDir, modules, builtin };
}

/**
 * Module names from modules.dep or modules.builtin paths ("kernel/net/x/ip_vs.ko.xz" -> "ip_vs").
 * @param {string} text
 * @param {RegExp} pattern  its first group is a module path
 */
function moduleNames(text, pattern) {
  const names = new Set();
  for (const match of text.matchAll(pattern)) {
    const file = match[1].slice(match[1].lastIndexOf('/') + 1);
    names.add(file.replace(/\.ko(\.\w+)?$/, '').replaceAll('-', '_'));
  }
  return names;
}

/**
 * A fresh `.lab/<id>/` under the repository (not /tmp: that is the guest's private tmpfs).
 * @param {string} [label]  appended to the id, e.g. "unit"
 */
export async function newWorkDir(label) {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const id = `${stamp}-${process.pid}-${randomBytes(3).toString('hex')}${label ? `-${label}` : ''}`;
  const dir = join(REPO_ROOT, '.lab', id);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * The guest command starts from a clean environment: only these and the caller's variables.
 * @param {string} workDir
 * @param {Record<string, string>} extra
 */
function guestEnvironment(workDir, extra) {
  // The host's node may live outside the standard PATH (nvm, /opt); keep its directory first.
  const nodeDir = dirname(process.execPath);
  return {
    PATH: `${nodeDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    // A private, empty home: host dotfiles stay out (bash sources ~/.bashrc whenever its
    // stdin is a socket, as node's 'pipe' stdio is) and nothing is written to the host's.
    HOME: GUEST_HOME,
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    ...extra,
    IPVSD_LAB: '1',
    IPVSD_LAB_WORKDIR: workDir,
  };
}

/** @param {boolean | NodeJS.WritableStream | undefined} stream */
function streamOf(stream) {
  if (stream === true) return process.stdout;
  return stream || undefined;
}

/** @type {Set<number>} process groups of guests still running, killed if the host goes away */
const runningGroups = new Set();

/** @param {number} pgid */
function killGroup(pgid) {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: the whole group is already gone.
  }
}

process.once('exit', () => runningGroups.forEach(killGroup));

/** @param {NodeJS.Signals} signal */
function onHostSignal(signal) {
  runningGroups.forEach(killGroup);
  runningGroups.clear();
  for (const name of HOST_SIGNALS) process.removeListener(name, onHostSignal);
  // Let the signal do what it would have done without us.
  process.kill(process.pid, signal);
}

/** @type {NodeJS.Signals[]} */
const HOST_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Starts linux.uml in its own process group, copies new output as it appears, and waits for
 * it to exit or for the timeout, after which the whole group (UML and its helpers) is killed.
 * @param {string} kernel
 * @param {string} memory
 * @param {string} initPath
 * @param {string} workDir
 * @param {number} timeoutMs
 * @param {NodeJS.WritableStream | undefined} stream
 * @returns {Promise<{ timedOut: boolean, how: string }>}
 */
function bootGuest(kernel, memory, initPath, workDir, timeoutMs, stream) {
  const consoleFd = openSync(join(workDir, 'console.log'), 'w');
  const args = [`mem=${memory}`, 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'rw',
    `init=${initPath}`, 'con=null', 'con0=fd:0,fd:1', 'quiet',
    // UML's pid file and mconsole socket, which it leaves behind when killed: keep them here.
    `uml_dir=${workDir}`, 'umid=uml'];
  // UML keeps guest RAM in a file under TMPDIR; /dev/shm is the fast place for it.
  const env = { ...process.env, TMPDIR: process.env.IPVSD_LAB_TMPDIR ?? '/dev/shm' };
  const child = spawn(kernel, args, { stdio: ['ignore', consoleFd, consoleFd], detached: true, env });
  closeSync(consoleFd);
  const pgid = /** @type {number} */ (child.pid);
  if (runningGroups.size === 0) for (const name of HOST_SIGNALS) process.on(name, onHostSignal);
  runningGroups.add(pgid);

  const tail = stream ? followFile(join(workDir, 'output.log'), stream) : undefined;
  return new Promise((resolvePromise) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(pgid);
    }, timeoutMs);
    const finish = (/** @type {string} */ how) => {
      clearTimeout(timer);
      killGroup(pgid); // helpers UML left behind
      runningGroups.delete(pgid);
      if (runningGroups.size === 0) for (const name of HOST_SIGNALS) process.removeListener(name, onHostSignal);
      tail?.stop();
      resolvePromise({ timedOut, how });
    };
    child.once('error', (error) => finish(`could not start: ${error.message}`));
    child.once('exit', (code, signal) => finish(signal ? `was killed by ${signal}` : `exited with status ${code}`));
  });
}

/**
 * Copies what is appended to a file to a stream, polling, until stopped (then drains it).
 * @param {string} path
 * @param {NodeJS.WritableStream} stream
 */
function followFile(path, stream) {
  const buffer = Buffer.alloc(64 * 1024);
  let fd = -1;
  let position = 0;
  const drain = () => {
    if (fd < 0) {
      try {
        fd = openSync(path, 'r');
      } catch {
        return; // not created yet
      }
    }
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, position);
      if (n === 0) return;
      position += n;
      stream.write(Buffer.from(buffer.subarray(0, n)));
    }
  };
  const timer = setInterval(drain, 100);
  return {
    stop() {
      clearInterval(timer);
      drain();
      if (fd >= 0) closeSync(fd);
    },
  };
}

/**
 * Guest-side marks (seconds of guest uptime) turned into phase durations.
 * @param {string} workDir
 * @param {number} totalMs
 * @returns {GuestTimings | undefined}
 */
function readTimings(workDir, totalMs) {
  const text = readIfExists(join(workDir, 'timings'));
  if (text === undefined) return undefined;
  /** @type {Record<string, number>} */
  const marks = {};
  for (const line of text.split('\n')) {
    const [name, uptime] = line.split(' ');
    if (name && uptime) marks[name] = Math.round(Number(uptime) * 1000);
  }
  const { init, modules, done } = marks;
  if (init === undefined || modules === undefined) return undefined;
  // The guest's uptime starts when the kernel starts, a few ms after the host spawns it.
  return {
    bootMs: init,
    modulesMs: modules - init,
    commandMs: (done ?? totalMs) - modules,
    totalMs,
  };
}

/** @param {string} path */
function readIfExists(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * `node test/lab/guest.js [--timeout SEC] [--memory SIZE] [--modules a,b] [--env K=V]... -- COMMAND...`
 * One word after `--` is a shell line; several are an argv. Exits with the command's status.
 * @param {string[]} argv
 */
async function main(argv) {
  const separator = argv.indexOf('--');
  const flags = separator < 0 ? argv : argv.slice(0, separator);
  const words = separator < 0 ? [] : argv.slice(separator + 1);
  if (words.length === 0) {
    process.stderr.write('usage: node test/lab/guest.js [--timeout SEC] [--memory SIZE] [--modules a,b] [--env K=V]... -- COMMAND...\n');
    return 2;
  }
  /** @type {GuestOptions} */
  const options = { command: words.length === 1 ? words[0] : words, stream: true, env: labEnvFromHost() };
  for (let i = 0; i < flags.length; i += 2) {
    const [flag, value] = [flags[i], flags[i + 1]];
    if (value === undefined) {
      process.stderr.write(`guest.js: ${flag} needs a value\n`);
      return 2;
    }
    if (flag === '--timeout') options.timeoutMs = Number(value) * 1000;
    else if (flag === '--memory') options.memory = value;
    else if (flag === '--modules') options.modules = value.split(',').filter(Boolean);
    else if (flag === '--env' && value.includes('=')) {
      options.env = { ...options.env, [value.slice(0, value.indexOf('='))]: value.slice(value.indexOf('=') + 1) };
    } else {
      process.stderr.write(`guest.js: unknown option ${flag} ${value}\n`);
      return 2;
    }
  }
  try {
    const result = await runInGuest(options);
    if (result.timedOut) process.stderr.write(`guest.js: the command timed out; the guest was killed (${result.workDir})\n`);
    return result.exitCode;
  } catch (error) {
    if (error instanceof LabError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** Host variables a guest command is likely to need: the project's own and CI's. */
export function labEnvFromHost() {
  /** @type {Record<string, string>} */
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    // IPVSD_LAB_* configure the host side of the lab; the guest gets its own.
    if (value === undefined || name.startsWith('IPVSD_LAB')) continue;
    // BENCH_* tune the npm run bench:* scripts that run in the guest.
    if (name.startsWith('IPVSD_') || name.startsWith('BENCH_') || name === 'CI') env[name] = value;
  }
  return env;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
