// npm run bench:ipvs: inside one UML guest, program 2000 services x 10 destinations from an
// empty table with the reconciler and with ipvsadm-restore, alternately, then time one weight
// change in the full table. The last line is one JSON object.
import { execFileSync } from 'node:child_process';
import { IpvsClient, keyed } from '../src/ipvs/client.js';
import { formatRules } from '../src/ipvs/ipvsadm-rules.js';
import { destination, service, type ServiceEntry } from '../src/ipvs/model.js';
import { Reconciler } from '../src/ipvs/reconciler.js';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 2000);
const DESTINATIONS = Number(process.env.BENCH_DESTINATIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function table(): ServiceEntry[] {
  return Array.from({ length: SERVICES }, (_, i) => ({
    service: service({ address: `10.${1 + (i >> 8)}.${i & 0xff}.1`, port: 80, scheduler: 'wrr' }),
    destinations: Array.from({ length: DESTINATIONS }, (_, j) =>
      destination({ address: `172.16.${j}.${1 + (i % 250)}`, port: 8000 + (i >> 2), weight: 1 + j }),
    ),
  }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ipvsadm = (...args: string[]) => execFileSync('ipvsadm', args, { encoding: 'utf8', maxBuffer: 64 << 20 });

function checkFull(expected: number): void {
  const lines = ipvsadm('-Sn').split('\n').filter(Boolean).length;
  if (lines !== expected) throw new Error(`table has ${lines} lines, expected ${expected}`);
}

async function main(): Promise<void> {
  const desired = table();
  const ops = SERVICES * (1 + DESTINATIONS);
  const rules = formatRules(desired).join('\n') + '\n';
  const ipvs = await IpvsClient.open();
  const ours: number[] = [];
  const reference: number[] = [];

  for (let round = 0; round < ROUNDS; round++) {
    ipvsadm('-C');
    let t = performance.now();
    const report = await new Reconciler(ipvs).sync(keyed(desired));
    ours.push(performance.now() - t);
    if (report.failures.length > 0) throw new Error(`reconciler failures: ${report.failures[0]!.error.message}`);
    checkFull(ops);

    ipvsadm('-C');
    t = performance.now();
    execFileSync('ipvsadm-restore', [], { input: rules });
    reference.push(performance.now() - t);
    checkFull(ops);
    console.log(`round ${round + 1}: ipvsd ${ours.at(-1)!.toFixed(0)} ms, ipvsadm-restore ${reference.at(-1)!.toFixed(0)} ms`);
  }

  // One weight change in the full table, as the health layer makes it.
  ipvsadm('-C');
  const reconciler = new Reconciler(ipvs);
  await reconciler.sync(keyed(desired));
  const changes: number[] = [];
  const current = keyed(desired);
  for (let i = 0; i < 21; i++) {
    const entry = desired[(i * 97) % SERVICES]!;
    const changed = {
      service: entry.service,
      destinations: entry.destinations.map((d, j) => (j === 0 ? { ...d, weight: 100 + i } : d)),
    };
    const key = [...keyed([changed]).keys()][0]!;
    current.set(key, changed);
    const t = performance.now();
    const report = await reconciler.update(current, [key]);
    changes.push(performance.now() - t);
    if (report.operations.length !== 1 || report.failures.length > 0) throw new Error('single change was not one clean operation');
  }
  ipvsadm('-C');
  ipvs.close();

  const oursMs = median(ours);
  const refMs = median(reference);
  const result = {
    ops,
    rounds: ROUNDS,
    ipvsd_ms: Math.round(oursMs),
    ipvsadm_restore_ms: Math.round(refMs),
    ipvsd_ops_per_s: Math.round(ops / (oursMs / 1000)),
    ipvsadm_restore_ops_per_s: Math.round(ops / (refMs / 1000)),
    ratio: Number((refMs / oursMs).toFixed(2)),
    single_change_ms: Number(median(changes).toFixed(3)),
  };
  console.log(`median: ipvsd ${result.ipvsd_ops_per_s} ops/s, ipvsadm-restore ${result.ipvsadm_restore_ops_per_s} ops/s, ratio ${result.ratio}; single change ${result.single_change_ms} ms`);
  console.log(JSON.stringify(result));
}

main().catch((err: unknown) => {
  console.error(`bench:ipvs failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
