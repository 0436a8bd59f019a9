// npm run bench:health: inside one UML guest, keepalived (Debian) and ipvsd each run the same
// generated configuration of scenario C (N TCP_CHECK real servers, delay_loop 1, alpha) against
// one accept-and-close process holding N ports in a namespace, for N = 1000 and 5000: time from
// start to all N in the table, checks performed per second (Tcp: ActiveOpens, or OutRsts for
// half-open probes (BENCH_IPVSD_ARGS=--tcp-half-open), of the director's
// namespace, where only the daemon connects), CPU per check and RSS of the daemon's processes.
// The last line is one JSON object with both and the ratios ipvsd / keepalived.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, openSync, writeSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SIZES = (process.env.BENCH_SIZES ?? '1000,5000').split(',').map(Number);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 10_000);
/** Extra ipvsd flags, e.g. BENCH_IPVSD_ARGS=--tcp-half-open. */
const ipvsdArgs = (process.env.BENCH_IPVSD_ARGS ?? '').split(' ').filter(Boolean);
/** Node flags for ipvsd, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/abs/dir' to profile it. */
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** BENCH_DAEMONS=ipvsd measures ipvsd alone (profiling runs); the comparison needs both. */
const daemons = (process.env.BENCH_DAEMONS ?? 'keepalived,ipvsd').split(',').filter(Boolean);
/** BENCH_IPVSD_LOG=/work/path keeps ipvsd's log lines (with BENCH_IPVSD_ARGS='--log-level info'). */
const ipvsdLog = process.env.BENCH_IPVSD_LOG;
/** After all servers are in: let the first round's spread settle before sampling. */
const SETTLE_MS = 3000;
/** Time given to write a heap snapshot of some 100 MB inside the guest. */
const SNAPSHOT_MS = 20_000;
const FIRST_PORT = 10_000;
const SINK = '10.99.0.11';
const ipvsdCli = fileURLToPath(new URL('../src/cli/ipvsd.js', import.meta.url));

// One epoll loop holding every listener; it only accepts and closes.
const sinkScript = `
import resource, select, socket, sys
host, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 1024, n + 1024))
ep = select.epoll()
listeners = {}
for port in range(first, first + n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(128)
    s.setblocking(False)
    ep.register(s.fileno(), select.EPOLLIN)
    listeners[s.fileno()] = s
print('listening', flush=True)
while True:
    for fd, _ in ep.poll():
        try:
            listeners[fd].accept()[0].close()
        except BlockingIOError:
            pass
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = (...argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const clockTicks = Number(run('getconf', 'CLK_TCK').trim());

function config(n: number): string {
  const blocks: string[] = [];
  for (let i = 0; i < n; i++) {
    blocks.push(`    real_server ${SINK} ${FIRST_PORT + i} {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }`);
  }
  return `global_defs {
    router_id lab_dir1
}

virtual_server 10.99.0.100 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    alpha
${blocks.join('\n')}
}
`;
}

function destinationsInTable(): number {
  let count = 0;
  for (const line of readFileSync('/proc/net/ip_vs', 'utf8').split('\n')) if (line.startsWith('  ->')) count++;
  return count;
}

/** A `Tcp:` counter of the director's namespace (/proc/net/snmp). */
function tcpCounter(field: 'ActiveOpens' | 'OutRsts'): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return Number(values[names.indexOf(field)]);
}

// A connect check is one active open; a half-open check opens nothing, and its SYN-ACK is answered
// by the director's kernel with one RST.
const halfOpen = ipvsdArgs.includes('--tcp-half-open');
const checksSoFar = (name: string): number => tcpCounter(name === 'ipvsd' && halfOpen ? 'OutRsts' : 'ActiveOpens');

/** The guest's busy and total jiffies, from the first line of /proc/stat. */
function guestJiffies(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3]! - (fields[4] ?? 0), total };
}

/** A process and its descendants (keepalived forks a checker child). */
function processTree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Exited while listing.
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]!) ?? []));
  return tree;
}

/** CPU seconds (user + system) and RSS in KB of a set of processes. */
function usage(pids: number[]): { cpuSeconds: number; rssKb: number } {
  let ticks = 0;
  let rssKb = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime are fields 14 and 15 of stat; fields[0] here is field 3.
      ticks += Number(fields[11]) + Number(fields[12]);
      rssKb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // Exited.
    }
  }
  return { cpuSeconds: ticks / clockTicks, rssKb };
}

interface Measurement {
  daemon: string;
  servers: number;
  startToAllS: number | null;
  checksPerS: number;
  cpuPct: number;
  cpuPerCheckUs: number;
  rssKb: number;
  guestBusyPct: number;
  sigtermToExitS: number;
}

function startDaemon(name: string, conf: string, dir: string): ChildProcess {
  // Thousands of concurrent probes need more descriptors than the default 1024.
  const limit = ['prlimit', '--nofile=65536:65536', '--'];
  const argv = name === 'keepalived'
    ? [...limit, 'keepalived', '-n', '-l', '-C', '-f', conf, '-p', join(dir, 'keepalived.pid'), '-c', join(dir, 'checkers.pid'), '-r', join(dir, 'vrrp.pid')]
    : [...limit, process.execPath, ...nodeArgs, ipvsdCli, '-f', conf, '--log-level', 'warn', ...ipvsdArgs];
  const log = name === 'ipvsd' && ipvsdLog !== undefined ? openSync(ipvsdLog, 'a') : 'ignore';
  // The log's own clock, so its lines can be read as time since the spawn.
  if (log !== 'ignore') writeSync(log, `${JSON.stringify({ time: Date.now(), event: 'bench-spawn' })}\n`);
  return spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', log, log] });
}

async function measure(name: string, n: number, conf: string, dir: string): Promise<Measurement> {
  run('ipvsadm', '-C');
  const started = performance.now();
  const child = startDaemon(name, conf, dir);
  const exited = new Promise<number>((r) => child.once('exit', () => r(performance.now())));
  let startToAllS: number | null = null;
  const deadline = started + 120_000;
  while (performance.now() < deadline && child.exitCode === null) {
    if (destinationsInTable() >= n) {
      startToAllS = (performance.now() - started) / 1000;
      if (name === 'ipvsd' && ipvsdLog !== undefined) appendFileSync(ipvsdLog, `${JSON.stringify({ time: Date.now(), event: 'bench-all-in' })}\n`);
      break;
    }
    await sleep(200);
  }
  if (child.exitCode !== null) throw new Error(`${name} exited with status ${child.exitCode} before its servers were in`);
  await sleep(SETTLE_MS);
  const pids = processTree(child.pid!);
  const before = { cpu: usage(pids).cpuSeconds, opens: checksSoFar(name), guest: guestJiffies(), at: performance.now() };
  await sleep(WINDOW_MS);
  const after = { ...usage(pids), opens: checksSoFar(name), guest: guestJiffies(), at: performance.now() };
  const seconds = (after.at - before.at) / 1000;
  const checks = after.opens - before.opens;
  const cpu = after.cpuSeconds - before.cpu;
  // BENCH_NODE_ARGS='--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/work/dir': a heap snapshot at the end of the window.
  const snapshotSignal = name === 'ipvsd' ? /^--heapsnapshot-signal=(\w+)$/.exec(nodeArgs.find((a) => a.startsWith('--heapsnapshot-signal=')) ?? '')?.[1] : undefined;
  if (snapshotSignal !== undefined) {
    child.kill(snapshotSignal as NodeJS.Signals);
    await sleep(SNAPSHOT_MS);
  }
  // With a log file: where the memory is (anonymous = heap and malloc, file = the node binary's pages).
  if (name === 'ipvsd' && ipvsdLog !== undefined) {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8').split('\n').filter((l) => /^(VmRSS|RssAnon|RssFile|RssShmem|VmData|Threads)/.test(l));
    appendFileSync(ipvsdLog, `${JSON.stringify({ time: Date.now(), event: 'bench-memory', status })}\n`);
  }
  const sent = performance.now();
  child.kill('SIGTERM');
  const exitedAt = await Promise.race([exited, sleep(30_000).then(() => NaN)]);
  if (Number.isNaN(exitedAt)) child.kill('SIGKILL');
  run('ipvsadm', '-C');
  const m: Measurement = {
    daemon: name,
    servers: n,
    startToAllS: startToAllS === null ? null : round(startToAllS, 2),
    checksPerS: round(checks / seconds, 0),
    cpuPct: round((100 * cpu) / seconds, 1),
    cpuPerCheckUs: checks > 0 ? round((cpu / checks) * 1e6, 0) : 0,
    rssKb: after.rssKb,
    guestBusyPct: round((100 * (after.guest.busy - before.guest.busy)) / (after.guest.total - before.guest.total), 1),
    sigtermToExitS: round((exitedAt - sent) / 1000, 2),
  };
  console.log(JSON.stringify(m));
  return m;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : round(a / b, 2);
}

async function main(): Promise<void> {
  if (!readdirSync('/proc/net').includes('ip_vs')) throw new Error('no IPVS in this kernel: run it in the lab guest (node test/lab/guest.js -- node dist/bench/health.js)');
  const dir = mkdtempSync(join(tmpdir(), 'bench-health-'));
  run('ip', 'netns', 'add', 'sink');
  let sink: ChildProcess | undefined;
  try {
    run('ip', 'link', 'add', 'dir0', 'type', 'veth', 'peer', 'name', 'sink0');
    run('ip', 'link', 'set', 'sink0', 'netns', 'sink');
    run('ip', 'address', 'add', '10.99.0.1/24', 'dev', 'dir0');
    run('ip', 'link', 'set', 'dir0', 'up');
    run('ip', '-n', 'sink', 'address', 'add', `${SINK}/24`, 'dev', 'sink0');
    run('ip', '-n', 'sink', 'link', 'set', 'sink0', 'up');
    run('ip', '-n', 'sink', 'link', 'set', 'lo', 'up');
    const results: Record<string, unknown> = {};
    for (const n of SIZES) {
      sink = spawn('ip', ['netns', 'exec', 'sink', 'python3', '-c', sinkScript, SINK, String(FIRST_PORT), String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        sink!.stdout!.once('data', () => resolve());
        sink!.once('exit', (code) => reject(new Error(`the sink exited with status ${code}`)));
      });
      const conf = join(dir, `c-${n}.conf`);
      writeFileSync(conf, config(n));
      const keepalived = daemons.includes('keepalived') ? await measure('keepalived', n, conf, dir) : undefined;
      const ipvsd = daemons.includes('ipvsd') ? await measure('ipvsd', n, conf, dir) : undefined;
      sink.kill('SIGKILL');
      if (!keepalived || !ipvsd) continue;
      results[`n${n}`] = {
        keepalived,
        ipvsd,
        ratios: {
          checksPerS: ratio(ipvsd.checksPerS, keepalived.checksPerS),
          cpuPerCheck: ratio(ipvsd.cpuPerCheckUs, keepalived.cpuPerCheckUs),
          cpuPct: ratio(ipvsd.cpuPct, keepalived.cpuPct),
          rss: ratio(ipvsd.rssKb, keepalived.rssKb),
          startToAll: ratio(ipvsd.startToAllS, keepalived.startToAllS),
        },
      };
    }
    console.log(JSON.stringify({ bench: 'health', windowS: WINDOW_MS / 1000, ...results }));
  } finally {
    sink?.kill('SIGKILL');
    run('ip', 'netns', 'delete', 'sink');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:health failed: ${(error as Error).message}`);
  process.exitCode = 1;
});
