// npm run bench:vrrp: VRRP failover of ipvsd against keepalived, measured the same way in the same
// run, in two host network namespaces (test/interop/vrrp-pair.ts). For each advert timing (v2 1 s,
// v3 0.1 s) and each master (ipvsd, keepalived; the backup is always keepalived), BENCH_RUNS runs
// (default 5) of: start both -> master sole owner; SIGTERM the master (backup takeover, VIP
// released by the master, master process exited, and whether the VIP was ever seen on both);
// restart it (preemption); SIGKILL it (backup takeover). Ownership is polled every 5 ms through
// one long-running `ip -n NS -batch -` per director (a fresh `ip` per poll costs 10-20 ms on a
// busy machine). Needs root, iproute2 and keepalived. The last line is one JSON object.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPrivateCopy, VrrpPair, type InstanceOptions, type Side, type Speaker } from '../test/interop/vrrp-pair.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Timing {
  name: 'v2' | 'v3';
  version: 2 | 3;
  advertInt: string;
  advertMs: number;
}

const timings: Timing[] = [
  { name: 'v2', version: 2, advertInt: '1', advertMs: 1000 },
  { name: 'v3', version: 3, advertInt: '0.1', advertMs: 100 },
];

type Kind = Speaker['kind'];

interface Run {
  startToMasterS: number;
  sigtermTakeoverS: number;
  sigtermReleaseS: number;
  sigtermExitS: number;
  /** Polls during the SIGTERM handover that saw the VIP on both directors. */
  sigtermBothPolls: number;
  sigtermPolls: number;
  preemptS: number;
  preemptBothPolls: number;
  sigkillTakeoverS: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const POLL_MS = 5;

/** Answers "does this namespace's eth0 hold the VIP?" through one persistent `ip -batch` process. */
class AddressProbe {
  private readonly ip: ChildProcessWithoutNullStreams;
  private buffered = '';
  private waiting: ((lines: string[]) => void) | undefined;

  constructor(ns: string, private readonly vip: string) {
    this.ip = spawn('ip', ['-n', ns, '-4', '-o', '-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.ip.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.buffered += chunk;
      // Each query ends with `addr show dev lo`, whose one 127.0.0.1 line marks the end of the answer.
      // (`link show` would do, but in batch mode it turns later `addr show` commands into link listings.)
      const end = this.buffered.search(/^\d+: lo\s+inet .*\n/m);
      if (end < 0 || !this.waiting) return;
      const answer = this.buffered.slice(0, end);
      this.buffered = this.buffered.slice(this.buffered.indexOf('\n', end) + 1);
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve(answer.split('\n'));
    });
  }

  holds(): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiting = (lines) => resolve(lines.some((l) => l.includes(` ${this.vip}/`)));
      this.ip.stdin.write('addr show dev eth0\naddr show dev lo\n');
    });
  }

  close(): void {
    this.ip.stdin.end();
  }
}

// Set by main() once the private build exists.
let pair!: VrrpPair;
let probes!: Record<Side, AddressProbe>;

async function owners(): Promise<Side[]> {
  const [a, b] = await Promise.all([probes.a.holds(), probes.b.holds()]);
  return [...(a ? ['a' as const] : []), ...(b ? ['b' as const] : [])];
}
let build: { entry: string; remove: () => void } | undefined;

function start(kind: Kind, side: Side, t: Timing, role: 'MASTER' | 'BACKUP'): Speaker {
  const o: InstanceOptions = { state: role, priority: role === 'MASTER' ? 150 : 100, version: t.version, advertInt: t.advertInt };
  return kind === 'ipvsd' ? pair.startIpvsd(side, o) : pair.startKeepalived(side, o);
}

const only = (side: Side) => (owners: Side[]) => owners.length === 1 && owners[0] === side;

/** Polls from t0 until `done`; counts polls that saw both holding the VIP; returns the first time each predicate held. */
async function observe(t0: number, timeoutMs: number, marks: Record<string, (owners: Side[]) => boolean>, done: () => boolean): Promise<{ at: Record<string, number>; both: number; polls: number }> {
  const at: Record<string, number> = {};
  let both = 0;
  let polls = 0;
  for (;;) {
    const polled = performance.now();
    const seen = await owners();
    const now = performance.now();
    polls++;
    if (seen.length === 2) both++;
    for (const [name, test] of Object.entries(marks)) if (at[name] === undefined && test(seen)) at[name] = (now - t0) / 1000;
    if (Object.keys(at).length === Object.keys(marks).length && done()) return { at, both, polls };
    if (now - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${Object.keys(marks).filter((m) => at[m] === undefined).join(', ') || 'the process to exit'}; owners [${seen.join(', ')}]`);
    await sleep(Math.max(0, POLL_MS - (now - polled)));
  }
}

async function run(kind: Kind, t: Timing): Promise<Run> {
  const limit = 10_000 + 10 * t.advertMs;
  let t0 = performance.now();
  let master = start(kind, 'a', t, 'MASTER');
  const backup = start('keepalived', 'b', t, 'BACKUP');
  const startToMasterS = (
    await observe(t0, limit, { master: only('a') }, () => true).catch((err: Error) => {
      throw new Error(`${err.message}\n--- ${kind} (master) output:\n${master.output()}\n--- keepalived (backup) output:\n${backup.output()}`);
    })
  ).at.master!;
  // Let the backup settle into BACKUP and see a few adverts.
  await sleep(3 * t.advertMs + 200);

  let exitAt = 0;
  void master.exited.then(() => (exitAt = performance.now()));
  t0 = performance.now();
  pair.terminate(master);
  const term = await observe(t0, limit, { takeover: (o) => o.includes('b'), release: (o) => !o.includes('a') }, () => exitAt > 0);
  const sigtermExitS = (exitAt - t0) / 1000;

  t0 = performance.now();
  master = start(kind, 'a', t, 'MASTER');
  const preempt = await observe(t0, limit, { preempt: only('a') }, () => true);
  // A random phase against the adverts, as keepalived's figures measure it.
  await sleep(2 * t.advertMs + 100 + Math.random() * t.advertMs);

  t0 = performance.now();
  pair.crash(master);
  const kill = await observe(t0, limit, { takeover: (o) => o.includes('b') }, () => true);
  await pair.stopAll();
  return {
    startToMasterS,
    sigtermTakeoverS: term.at.takeover!,
    sigtermReleaseS: term.at.release!,
    sigtermExitS,
    sigtermBothPolls: term.both,
    sigtermPolls: term.polls,
    preemptS: preempt.at.preempt!,
    preemptBothPolls: preempt.both,
    sigkillTakeoverS: kill.at.takeover!,
  };
}

type Summary = Record<Exclude<keyof Run, 'sigtermBothPolls' | 'sigtermPolls' | 'preemptBothPolls'>, number> & {
  runs: number;
  sigtermBothPolls: number;
  preemptBothPolls: number;
  pollIntervalMs: number;
};

function summarize(runs: Run[], sigtermWindowS: number[]): Summary {
  const m = (k: keyof Run) => round(median(runs.map((r) => r[k])));
  return {
    runs: runs.length,
    startToMasterS: m('startToMasterS'),
    sigtermTakeoverS: m('sigtermTakeoverS'),
    sigtermReleaseS: m('sigtermReleaseS'),
    sigtermExitS: m('sigtermExitS'),
    preemptS: m('preemptS'),
    sigkillTakeoverS: m('sigkillTakeoverS'),
    sigtermBothPolls: runs.reduce((n, r) => n + r.sigtermBothPolls, 0),
    preemptBothPolls: runs.reduce((n, r) => n + r.preemptBothPolls, 0),
    pollIntervalMs: round(median(runs.map((r, i) => (sigtermWindowS[i]! * 1000) / r.sigtermPolls)), 1),
  };
}

async function main(): Promise<void> {
  build = buildPrivateCopy(root);
  pair = new VrrpPair(build.entry);
  probes = { a: new AddressProbe(pair.ns.a, pair.vip.split('/')[0]!), b: new AddressProbe(pair.ns.b, pair.vip.split('/')[0]!) };
  const results: Record<string, Record<Kind, Summary>> = {};
  for (const t of timings) {
    const byKind: Partial<Record<Kind, Summary>> = {};
    for (const kind of ['ipvsd', 'keepalived'] as const) {
      const runs: Run[] = [];
      const windows: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await run(kind, t);
        runs.push(r);
        windows.push(Math.max(r.sigtermTakeoverS, r.sigtermReleaseS, r.sigtermExitS));
        console.log(`${t.name} ${kind} master / keepalived backup, run ${i + 1}: ${JSON.stringify(r)}`);
      }
      byKind[kind] = summarize(runs, windows);
    }
    results[t.name] = byKind as Record<Kind, Summary>;
  }

  const ratio = (t: string, k: keyof Summary) => round(results[t]!.ipvsd[k] / results[t]!.keepalived[k], 2);
  console.log('\nmedians (s)                          ipvsd    keepalived  ratio');
  for (const t of timings) {
    for (const k of ['startToMasterS', 'sigtermTakeoverS', 'sigtermReleaseS', 'sigtermExitS', 'preemptS', 'sigkillTakeoverS'] as const) {
      const r = results[t.name]!;
      console.log(`${t.name} ${k.padEnd(32)} ${String(r.ipvsd[k]).padStart(7)} ${String(r.keepalived[k]).padStart(11)}  ${ratio(t.name, k)}`);
    }
    const r = results[t.name]!;
    console.log(`${t.name} VIP on both during SIGTERM handover: ipvsd ${r.ipvsd.sigtermBothPolls} polls, keepalived ${r.keepalived.sigtermBothPolls} polls (poll every ~${r.ipvsd.pollIntervalMs} ms)`);
    console.log(`${t.name} VIP on both during preemption (not a clean handover): ipvsd ${r.ipvsd.preemptBothPolls} polls, keepalived ${r.keepalived.preemptBothPolls} polls`);
  }
  const neverBoth = timings.every((t) => results[t.name]!.ipvsd.sigtermBothPolls === 0);
  console.log(
    JSON.stringify({
      bench: 'vrrp',
      runs: RUNS,
      backup: 'keepalived',
      results,
      ratios: Object.fromEntries(timings.map((t) => [t.name, { sigtermTakeover: ratio(t.name, 'sigtermTakeoverS'), sigkillTakeover: ratio(t.name, 'sigkillTakeoverS'), sigtermRelease: ratio(t.name, 'sigtermReleaseS'), sigtermExit: ratio(t.name, 'sigtermExitS') }])),
      ipvsdNeverOnBothDuringHandover: neverBoth,
    }),
  );
  if (!neverBoth) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  console.error(`bench:vrrp failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  const made = pair as VrrpPair | undefined;
  if (made) {
    for (const probe of Object.values((probes as Record<Side, AddressProbe> | undefined) ?? {})) probe.close();
    await made.stopAll().catch(() => {});
    made.cleanup();
  }
  build?.remove();
}
