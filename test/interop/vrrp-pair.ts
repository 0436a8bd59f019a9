// Two host network namespaces joined by a veth pair, each with a VRRP speaker (ipvsd's VRRP or
// Debian's keepalived), and a poller that reports who holds the VIP. Everything created here is
// named with a per-run suffix and removed by name in cleanup(), which also runs on process exit.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll } from 'vitest';

export const VIP = '10.98.0.100/24';
export const VIP6 = '2001:db8:98::100/64';
/** A second instance's VIP (sync group tests). */
export const VIP2 = '10.98.0.101/24';
export const ADDRESSES = { a: '10.98.0.2', b: '10.98.0.3' } as const;
export type Side = 'a' | 'b';

export interface Speaker {
  kind: 'ipvsd' | 'keepalived';
  side: Side;
  child: ChildProcess;
  /** keepalived's VRRP child, read from its pid file. */
  vrrpPid: () => number | undefined;
  output: () => string;
  exited: Promise<void>;
}

export interface InstanceOptions {
  state: 'MASTER' | 'BACKUP';
  priority: number;
  version: 2 | 3;
  advertInt: string;
  vrid?: number;
  /** address/prefix; default VIP. An IPv6 VIP makes an IPv6 instance (always VRRPv3). */
  vip?: string;
  /** Extra lines inside vrrp_instance. */
  extra?: string;
  /** Extra top-level blocks (vrrp_script ...). */
  blocks?: string;
  /** Extra global_defs lines. */
  globals?: string;
}

export function keepalivedConf(o: InstanceOptions, routerId: string): string {
  return `global_defs {
    router_id ${routerId}
${o.globals ?? ''}}
${o.blocks ?? ''}
vrrp_instance VI_1 {
    state ${o.state}
    interface eth0
    virtual_router_id ${o.vrid ?? 51}
    priority ${o.priority}
    advert_int ${o.advertInt}
${o.version === 3 ? '    version 3\n' : ''}${o.extra ?? ''}    virtual_ipaddress {
        ${o.vip ?? VIP}
    }
}
`;
}

export interface PairLab {
  /** Built in beforeAll. */
  readonly pair: VrrpPair;
  /** Printed under the file's title after its tests. */
  readonly figures: string[];
}

/**
 * One pair for a test file: the project compiled privately and the namespaces built before its
 * tests, every speaker stopped after each test, all removed after the last.
 */
export function usePair(title: string): PairLab {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  let build: { entry: string; remove: () => void } | undefined;
  let pair: VrrpPair | undefined;
  const lab = {
    figures: [] as string[],
    get pair(): VrrpPair {
      if (!pair) throw new Error('the VRRP pair is built in beforeAll');
      return pair;
    },
  };
  beforeAll(() => {
    build = buildPrivateCopy(root);
    pair = new VrrpPair(build.entry);
  }, 60_000);
  afterEach(async () => {
    await pair?.stopAll();
  }, 20_000);
  afterAll(() => {
    pair?.cleanup();
    build?.remove();
    if (lab.figures.length) console.log(`${title}:\n  ${lab.figures.join('\n  ')}`);
  });
  return lab;
}

/**
 * Compiles the project into a private directory for this run: other work may be rewriting the
 * shared dist/ at the same moment. binding.gyp, build/ and node_modules/ are linked in, so the
 * addon and the dependencies resolve as they do from the repository.
 */
export function buildPrivateCopy(root: string): { entry: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ipvsd-vrrp-build-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  for (const name of ['binding.gyp', 'build', 'node_modules']) symlinkSync(join(root, name), join(dir, name));
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', join(dir, 'dist')], { stdio: 'ignore' });
  } catch {
    // type errors elsewhere in the tree do not stop emit; a missing entry is reported below
  }
  const entry = join(dir, 'dist', 'src', 'vrrp', 'main.js');
  if (!existsSync(entry)) {
    remove();
    throw new Error(`compiling ${root} produced no ${entry}`);
  }
  return { entry, remove };
}

function sh(args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function shAsync(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(args[0]!, args.slice(1), { encoding: 'utf8' }, (_err, stdout) => resolve(stdout ?? ''));
  });
}

export class VrrpPair {
  /** The address/prefix owners() looks for; set it to match the scenario's instances. */
  vip = VIP;
  readonly ns: Record<Side, string>;
  readonly dir: string;
  private readonly speakers = new Set<Speaker>();
  private cleaned = false;
  private readonly onExit = () => this.cleanup();

  /** `entry`: the compiled src/vrrp/main.js to run (see buildPrivateCopy). */
  constructor(readonly entry: string) {
    const suffix = `${process.pid}-${Date.now().toString(36)}`;
    this.ns = { a: `ipvsd-vrrp-a-${suffix}`, b: `ipvsd-vrrp-b-${suffix}` };
    this.dir = mkdtempSync(join(tmpdir(), 'ipvsd-vrrp-'));
    process.once('exit', this.onExit);
    try {
      for (const side of ['a', 'b'] as const) {
        sh(['ip', 'netns', 'add', this.ns[side]]);
        // No duplicate address detection: link-local sources and IPv6 VIPs are usable at once.
        for (const conf of ['all', 'default']) sh(['ip', 'netns', 'exec', this.ns[side], 'sysctl', '-q', '-w', `net.ipv6.conf.${conf}.accept_dad=0`]);
      }
      // Created inside namespace a, so nothing of it ever exists in the host namespace.
      sh(['ip', '-n', this.ns.a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns.b]);
      for (const side of ['a', 'b'] as const) {
        sh(['ip', '-n', this.ns[side], 'addr', 'add', `${ADDRESSES[side]}/24`, 'dev', 'eth0']);
        sh(['ip', '-n', this.ns[side], 'link', 'set', 'lo', 'up']);
        sh(['ip', '-n', this.ns[side], 'link', 'set', 'eth0', 'up']);
      }
    } catch (err) {
      this.cleanup();
      throw err;
    }
  }

  startIpvsd(side: Side, o: InstanceOptions | string): Speaker {
    const conf = join(this.dir, `ipvsd-${side}.conf`);
    writeFileSync(conf, typeof o === 'string' ? o : keepalivedConf(o, `ipvsd_${side}`));
    return this.spawn('ipvsd', side, ['ip', 'netns', 'exec', this.ns[side], process.execPath, this.entry, '-f', conf], () => undefined);
  }

  startKeepalived(side: Side, o: InstanceOptions | string): Speaker {
    const conf = join(this.dir, `keepalived-${side}.conf`);
    writeFileSync(conf, typeof o === 'string' ? o : keepalivedConf(o, `keepalived_${side}`));
    const pid = join(this.dir, `keepalived-${side}.pid`);
    const vrrpPid = join(this.dir, `keepalived-${side}.vrrp.pid`);
    rmSync(pid, { force: true });
    rmSync(vrrpPid, { force: true });
    const readPid = () => {
      try {
        return Number(readFileSync(vrrpPid, 'utf8').trim()) || undefined;
      } catch {
        return undefined;
      }
    };
    return this.spawn('keepalived', side, ['ip', 'netns', 'exec', this.ns[side], 'keepalived', '-n', '-l', '-D', '-P', '-f', conf, '-p', pid, '-r', vrrpPid], readPid);
  }

  /** keepalived: stop parent and VRRP child first, so the parent cannot respawn the child (figures, surprise 5). */
  crash(s: Speaker): void {
    const pids = [s.child.pid, s.vrrpPid()].filter((p): p is number => p !== undefined);
    for (const p of pids) signal(p, 'SIGSTOP');
    for (const p of pids) signal(p, 'SIGKILL');
  }

  terminate(s: Speaker): void {
    if (s.child.pid !== undefined) signal(s.child.pid, 'SIGTERM');
  }

  async stopAll(): Promise<void> {
    for (const s of this.speakers) {
      this.crash(s);
      await s.exited;
    }
    this.speakers.clear();
    // What a killed speaker left behind must not leak into the next scenario.
    for (const side of ['a', 'b'] as const) {
      for (const vip of [VIP, VIP6, VIP2]) await shAsync(['ip', '-n', this.ns[side], 'addr', 'del', vip, 'dev', 'eth0']);
      await shAsync(['ip', '-n', this.ns[side], 'neigh', 'flush', 'dev', 'eth0']);
    }
  }

  /** Runs a command inside one namespace and returns its stdout. */
  exec(side: Side, argv: string[]): string {
    return sh(['ip', 'netns', 'exec', this.ns[side], ...argv]);
  }

  /** Which sides hold each of `vips` (address/prefix). */
  async holders(vips: readonly string[]): Promise<Record<string, Side[]>> {
    const out = await Promise.all((['a', 'b'] as const).map((side) => shAsync(['ip', '-n', this.ns[side], '-o', 'addr', 'show', 'dev', 'eth0'])));
    return Object.fromEntries(vips.map((vip) => [vip, (['a', 'b'] as const).filter((_, i) => out[i]!.includes(` ${vip.split('/')[0]}/`))]));
  }

  async owners(): Promise<Side[]> {
    const [a, b] = await Promise.all([this.holds('a'), this.holds('b')]);
    return [...(a ? ['a' as const] : []), ...(b ? ['b' as const] : [])];
  }

  async holds(side: Side): Promise<boolean> {
    const out = await shAsync(['ip', '-n', this.ns[side], '-o', 'addr', 'show', 'dev', 'eth0']);
    return out.includes(` ${this.vip.split('/')[0]}/`);
  }

  /** Polls until `until` holds; returns the seconds it took, or throws after timeoutMs. */
  async waitFor(until: (owners: Side[]) => boolean, timeoutMs: number, from = performance.now()): Promise<number> {
    for (;;) {
      const owners = await this.owners();
      const now = performance.now();
      if (until(owners)) return (now - from) / 1000;
      if (now - from > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms; VIP owners: [${owners.join(', ')}]`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Samples for `ms` and returns every owner set seen (to catch a second master). */
  async watch(ms: number): Promise<Set<string>> {
    const seen = new Set<string>();
    const end = performance.now() + ms;
    while (performance.now() < end) seen.add((await this.owners()).join(','));
    return seen;
  }

  cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    process.removeListener('exit', this.onExit);
    for (const s of this.speakers) {
      for (const p of [s.child.pid, s.vrrpPid()]) if (p !== undefined) signal(p, 'SIGKILL');
    }
    for (const name of Object.values(this.ns)) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // never created
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private spawn(kind: Speaker['kind'], side: Side, argv: string[], vrrpPid: () => number | undefined): Speaker {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const speaker: Speaker = { kind, side, child, vrrpPid, output: () => output, exited };
    this.speakers.add(speaker);
    void exited.then(() => this.speakers.delete(speaker));
    return speaker;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
