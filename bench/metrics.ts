// npm run bench:metrics: the cost of a /metrics scrape at 5000 real servers (one virtual server,
// a TCP_CHECK each), without root: real pools, desired table and status model from a generated
// configuration, and a fake kernel read. Before every scrape the kernel is read again (the
// counters of BENCH_BUSY of the servers changed) and some checks report, as in a daemon whose
// repair pass reads the kernel every 5 s and is scraped every 15 s. Prints ms per scrape (wall
// and CPU), the snapshot's time, the longest the event loop went without a turn (in CPU time,
// and as a 1 ms timer's delay), and a last line of JSON.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { StatusMetrics } from '../src/api/metrics.js';
import { loadConfigText } from '../src/config/load.js';
import { desiredTable } from '../src/daemon/desired-table.js';
import { Overrides } from '../src/daemon/overrides.js';
import { buildPools } from '../src/daemon/pools.js';
import { StatusModel } from '../src/daemon/status.js';
import type { ObservedEntry } from '../src/ipvs/client.js';
import type { ServiceEntry, Stats } from '../src/ipvs/model.js';

const REAL_SERVERS = Number(process.env.BENCH_REAL_SERVERS ?? 5000);
const SCRAPES = Number(process.env.BENCH_SCRAPES ?? 20);
const DESTINATIONS = process.env.BENCH_DESTINATIONS !== '0';
/** The share of real servers with traffic between two kernel reads (their counters change). */
const BUSY = Number(process.env.BENCH_BUSY ?? 1);
/** The bound on one synchronous stretch of a scrape. */
const SLICE_BUDGET_MS = 5;

function generate(): string {
  const servers: string[] = [];
  for (let i = 0; i < REAL_SERVERS; i++) {
    servers.push(`    real_server 10.1.${i >> 8}.${i & 0xff} 8080 {\n        weight ${(i % 3) + 1}\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n`);
  }
  return `virtual_server 10.99.0.100 80 {\n    delay_loop 5\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n${servers.join('')}}\n`;
}

function stats(seed: number): Stats {
  const b = BigInt(seed);
  return { connections: b, inPackets: b * 10n, outPackets: b * 9n, inBytes: b * 1400n, outBytes: b * 900n, connectionRate: 1n, inPacketRate: 2n, outPacketRate: 3n, inByteRate: 4n, outByteRate: 5n };
}

/** The kernel as the desired table has it, the busy destinations' counters grown since the last read. */
function kernelOf(desired: ReadonlyMap<string, ServiceEntry>, round: number): ObservedEntry[] {
  return [...desired.values()].map((e) => ({
    service: { ...e.service, stats: stats(1_000_000 + round * 7) },
    destinations: e.destinations.map((d, i) => {
      const busy = i < BUSY * e.destinations.length;
      return { ...d, activeConnections: busy ? (i + round) % 5 : 0, inactiveConnections: i % 7, persistentConnections: 0, stats: stats(i * 1000 + (busy ? round : 0)) };
    }),
  }));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const min = (xs: number[]): number => Math.min(...xs);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (x: number): number => +x.toFixed(2);

const { config } = loadConfigText(generate(), 'keepalived.conf', { configId: 'bench' });
if (!config) throw new Error('the generated configuration does not load');
const pools = buildPools(config);
const overrides = new Overrides();
const table = desiredTable(config, (vs) => pools.byVirtualServer.get(vs)!.state, (vs) => overrides.of(pools.byVirtualServer.get(vs)!.name));
const status = new StatusModel({ version: '0.1.0', configPath: 'keepalived.conf' });
status.attach({ pools: () => pools, desired: () => table, overrides: () => overrides, vrrpInstances: () => [], vrrpSyncGroups: () => [], logLevel: () => 'info' });
const checkerIds = [...pools.checkers.keys()];

const snapshotMs: number[] = [];
const metrics = new StatusMetrics(() => {
  const started = performance.now();
  const snapshot = status.snapshot();
  snapshotMs.push(performance.now() - started);
  return snapshot;
}, { destinations: DESTINATIONS });

// Two reads, alternated: the busy servers' counters differ at every scrape, and the bench makes no garbage of its own.
const reads = [kernelOf(table, 1), kernelOf(table, 2)];

/** Between scrapes: a new kernel read and a fiftieth of the checkers report. */
function daemonWork(round: number): void {
  status.kernelRead(reads[round % 2]!);
  for (let i = round % 50; i < checkerIds.length; i += 50) {
    status.checkResult(checkerIds[i]!, 'TCP_CHECK', { ok: true, reason: 'connected', durationMs: 1 + (round % 4) }, 0);
  }
}

async function scrape(): Promise<number> {
  let bytes = 0;
  await metrics.render((chunk) => (bytes += chunk.length));
  return bytes;
}

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

/**
 * The most CPU time spent between two turns of the event loop while `work` runs: how long the
 * scrape held the loop in one stretch, without the time other processes took the core (which
 * the wall-clock loop delay counts on a shared machine).
 */
async function longestStretch<T>(work: () => Promise<T>): Promise<{ result: T; stretchMs: number }> {
  let longest = 0;
  let last = process.cpuUsage();
  let running = true;
  const turn = (): void => {
    const now = process.cpuUsage();
    longest = Math.max(longest, cpuMs(now) - cpuMs(last));
    last = now;
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  const result = await work();
  running = false;
  turn();
  return { result, stretchMs: longest };
}

daemonWork(0);
await scrape(); // the first scrape builds the label sets and formats every line
snapshotMs.length = 0;
const walls: number[] = [];
const cpus: number[] = [];
const held: number[] = [];
const stretches: number[] = [];
let bytes = 0;
for (let round = 1; round <= SCRAPES; round++) {
  daemonWork(round);
  await sleep(20); // idle time, as between a repair pass and a scrape
  // A 1 ms timer's longest gap between runs bounds the longest stretch the scrape held the loop (+1 ms).
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await sleep(5); // the timer is running before the scrape starts
  const cpu = process.cpuUsage();
  const started = performance.now();
  const { result, stretchMs } = await longestStretch(scrape);
  bytes = result;
  walls.push(performance.now() - started);
  cpus.push(cpuMs(process.cpuUsage(cpu)));
  stretches.push(stretchMs);
  // A scrape shorter than the timer's period leaves no sample: the whole scrape is the longest stretch.
  await sleep(2);
  delay.disable();
  held.push(delay.count > 0 ? delay.max / 1e6 : walls.at(-1)!);
}
const samples = metrics.scrape().then((text) => text.split('\n').filter((l) => l && !l.startsWith('#')).length);

const result = {
  bench: 'metrics',
  realServers: REAL_SERVERS,
  destinations: DESTINATIONS,
  busy: BUSY,
  scrapes: SCRAPES,
  samples: await samples,
  kib: Math.round(bytes / 1024),
  wallMsMedian: ms(median(walls)),
  cpuMsMedian: ms(median(cpus)),
  cpuMsMin: ms(min(cpus)),
  snapshotMsMedian: ms(median(snapshotMs)),
  snapshotMsMin: ms(min(snapshotMs)),
  longestStretchCpuMsMedian: ms(median(stretches)),
  longestStretchCpuMsMax: ms(Math.max(...stretches)),
  loopDelayWallMsMedian: ms(median(held)),
  loopDelayWallMsMin: ms(min(held)),
  sliceBudgetMs: SLICE_BUDGET_MS,
};
// Medians and minimums: on a shared machine the other processes' time lands in the wall figures.
console.log(
  `metrics scrape at ${REAL_SERVERS} real servers${DESTINATIONS ? '' : ' (--no-destination-metrics)'}: ${result.samples} samples, ${result.kib} KiB; ` +
    `${SCRAPES} scrapes, kernel re-read before each (${BUSY * 100}% of the servers busy): median ${result.wallMsMedian} ms wall, CPU median ${result.cpuMsMedian} ms (min ${result.cpuMsMin})`,
);
console.log(
  `longest stretch without a turn of the event loop, in CPU time: median ${result.longestStretchCpuMsMedian} ms, max ${result.longestStretchCpuMsMax} ms (budget ${SLICE_BUDGET_MS} ms); ` +
    `snapshot median ${result.snapshotMsMedian} ms wall (min ${result.snapshotMsMin}); loop delay per scrape (wall, a 1 ms timer): median ${result.loopDelayWallMsMedian} ms (min ${result.loopDelayWallMsMin})`,
);
console.log(JSON.stringify(result));
