// Network namespaces, veth pairs and bridges for kernel tests. These run only inside the UML
// guest (test/lab/guest.js), where /run is a private tmpfs and the kernel is the guest's own.
// Everything created here is recorded, and cleanup() removes it, newest first.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';

export class LabCommandError extends Error {
  readonly code = 'LAB_COMMAND_FAILED';
  constructor(readonly argv: readonly string[], readonly status: number | null, readonly stderr: string) {
    super(`${argv.join(' ')} failed (status ${status ?? 'none'}): ${stderr.trim() || 'no message'}`);
    this.name = 'LabCommandError';
  }
}

export class NotInGuestError extends Error {
  readonly code = 'LAB_NOT_IN_GUEST';
  constructor() {
    super('kernel tests run only inside the UML guest: use `node test/lab/run-kernel.js` (see test/lab/README.md)');
    this.name = 'NotInGuestError';
  }
}

/** Throws unless this process runs inside a lab guest with IPVS loaded. */
export function assertInGuest(): void {
  if (process.env['IPVSD_LAB'] !== '1' || !existsSync('/proc/net/ip_vs')) throw new NotInGuestError();
}

/** Runs a command in the guest's root namespace and returns its stdout. */
export function run(argv: readonly string[]): string {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('run: empty command');
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failed = error as { status?: number | null; stderr?: string; message: string };
    throw new LabCommandError(argv, failed.status ?? null, failed.stderr ?? failed.message);
  }
}

/** Like run(), without blocking the event loop (for commands that talk to servers in this process). */
export function runAsync(argv: readonly string[]): Promise<string> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('runAsync: empty command'));
  return new Promise((resolve, reject) => {
    // stdin must not be a socket (node's 'pipe'): bash would then source ~/.bashrc.
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.once('error', (error) => reject(new LabCommandError(argv, null, error.message)));
    child.once('close', (status) => {
      if (status === 0) resolve(stdout);
      else reject(new LabCommandError(argv, status, stderr));
    });
  });
}

type Created =
  | { kind: 'namespace'; name: string }
  | { kind: 'link'; name: string; ns: string | undefined }
  | { kind: 'process'; child: ChildProcess };

const created: Created[] = [];

/** Creates a network namespace with its loopback up. */
export function createNamespace(name: string): string {
  run(['ip', 'netns', 'add', name]);
  created.push({ kind: 'namespace', name });
  run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

function ipIn(ns: string | undefined): string[] {
  return ns === undefined ? ['ip'] : ['ip', '-n', ns];
}

/** Runs a command inside a namespace and returns its stdout. */
export function execIn(ns: string, argv: readonly string[]): string {
  return run(['ip', 'netns', 'exec', ns, ...argv]);
}

/**
 * Starts a long-running process inside a namespace (or the root one); cleanup() kills it.
 * Its output is discarded unless options.stdio says otherwise (a full pipe would stall it).
 */
export function spawnIn(ns: string | undefined, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const full = ns === undefined ? [...argv] : ['ip', 'netns', 'exec', ns, ...argv];
  const [file, ...args] = full;
  if (file === undefined) throw new Error('spawnIn: empty command');
  const child = spawn(file, args, { stdio: 'ignore', ...options });
  created.push({ kind: 'process', child });
  return child;
}

/** One end of a veth pair: its name, the namespace it moves to (none: root) and addresses. */
export interface VethEnd {
  name: string;
  ns?: string;
  addresses?: string[];
}

/** Creates a veth pair, moves each end to its namespace, assigns addresses, brings both up. */
export function vethPair(a: VethEnd, b: VethEnd): void {
  run(['ip', 'link', 'add', a.name, 'type', 'veth', 'peer', 'name', b.name]);
  // Deleting one end deletes both; a namespace's deletion also takes its end with it.
  created.push({ kind: 'link', name: a.name, ns: a.ns });
  for (const end of [a, b]) {
    if (end.ns !== undefined) run(['ip', 'link', 'set', end.name, 'netns', end.ns]);
    const ip = ipIn(end.ns);
    for (const address of end.addresses ?? []) run([...ip, 'address', 'add', address, 'dev', end.name]);
    run([...ip, 'link', 'set', end.name, 'up']);
  }
}

/**
 * Creates a bridge in the root namespace that forwards at once and floods multicast (VRRP
 * adverts must reach every port), and attaches the given root-namespace interfaces.
 */
export function bridge(name: string, ports: readonly string[] = [], addresses: readonly string[] = []): string {
  run(['ip', 'link', 'add', name, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
  created.push({ kind: 'link', name, ns: undefined });
  for (const port of ports) attach(name, port);
  for (const address of addresses) run(['ip', 'address', 'add', address, 'dev', name]);
  run(['ip', 'link', 'set', name, 'up']);
  return name;
}

/** Attaches a root-namespace interface to a bridge. */
export function attach(bridgeName: string, port: string): void {
  run(['ip', 'link', 'set', port, 'master', bridgeName]);
}

/** Sets a sysctl in a namespace (or the root one), e.g. net.ipv4.conf.all.send_redirects=0. */
export function sysctl(ns: string | undefined, key: string, value: string | number): void {
  const argv = ['sysctl', '-q', '-w', `${key}=${value}`];
  if (ns === undefined) run(argv);
  else execIn(ns, argv);
}

/**
 * Tries one TCP connection from a namespace with bash's /dev/tcp (no ping or nc needed).
 * "refused" still proves the path works: the peer's kernel answered with a reset. Async, so
 * a server in this same process can accept the connection.
 */
export async function tcpConnect(ns: string, host: string, port: number, timeoutSeconds = 5): Promise<'connected' | 'refused' | 'unreachable'> {
  try {
    await runAsync(['ip', 'netns', 'exec', ns, 'timeout', String(timeoutSeconds), 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`]);
    return 'connected';
  } catch (error) {
    if (error instanceof LabCommandError) return /refused/i.test(error.stderr) ? 'refused' : 'unreachable';
    throw error;
  }
}

/** The network namespaces that exist now, by name. */
export function namespaces(): string[] {
  return run(['ip', 'netns', 'list']).split('\n').map((line) => line.split(' ')[0] ?? '').filter(Boolean);
}

/** Whether a link exists in a namespace (or the root one). */
export function linkExists(name: string, ns?: string): boolean {
  try {
    run([...ipIn(ns), 'link', 'show', 'dev', name]);
    return true;
  } catch (error) {
    if (error instanceof LabCommandError) return false;
    throw error;
  }
}

/** Removes everything created above, newest first; reports every failure together. */
export async function cleanup(): Promise<void> {
  const problems: string[] = [];
  for (let item = created.pop(); item !== undefined; item = created.pop()) {
    try {
      if (item.kind === 'process') await stop(item.child);
      else if (item.kind === 'namespace') run(['ip', 'netns', 'delete', item.name]);
      else if (linkExists(item.name, item.ns)) run([...ipIn(item.ns), 'link', 'delete', item.name]);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) throw new Error(`lab cleanup left things behind: ${problems.join('; ')}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}
