// npm run bench:config: generate a keepalived.conf with 5000 real servers (500 virtual servers
// x 10, each with a TCP_CHECK), load it several times, and time `keepalived -t` on the same
// file when it is installed. The last line is one JSON object.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';

const VIRTUAL_SERVERS = Number(process.env.BENCH_VIRTUAL_SERVERS ?? 500);
const REAL_SERVERS = Number(process.env.BENCH_REAL_SERVERS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const BUDGET_MS = 300;

function generate(): string {
  const out: string[] = ['global_defs {\n    router_id BENCH\n}\n'];
  for (let v = 0; v < VIRTUAL_SERVERS; v++) {
    out.push(`virtual_server 10.${1 + (v >> 8)}.${v & 0xff}.1 80 {\n    delay_loop 10\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n`);
    for (let r = 0; r < REAL_SERVERS; r++) {
      out.push(`    real_server 172.${16 + (r >> 8)}.${r & 0xff}.${1 + (v % 250)} ${8000 + (v >> 2)} {\n        weight ${1 + r}\n        TCP_CHECK {\n            connect_timeout 3\n            retry 2\n            delay_before_retry 2\n        }\n    }\n`);
    }
    out.push('}\n');
  }
  return out.join('');
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'ipvsd-bench-config-'));
try {
  const path = join(dir, 'keepalived.conf');
  writeFileSync(path, generate());
  const times: number[] = [];
  let realServers = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    const { config, diagnostics } = loadConfig(path, { configId: 'bench', env: {} });
    times.push(performance.now() - started);
    if (!config) throw new Error(`the generated file did not load: ${diagnostics[0]?.message}`);
    realServers = config.virtualServers.reduce((n, vs) => n + vs.realServers.length, 0);
  }
  const ipvsdMs = median(times);

  const keepalived = ['/usr/sbin/keepalived', '/usr/local/sbin/keepalived'].find((p) => existsSync(p));
  let keepalivedMs: number | null = null;
  if (keepalived) {
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      spawnSync(keepalived, ['-t', '-f', path], { stdio: 'ignore', timeout: 60_000 });
      runs.push(performance.now() - started);
    }
    keepalivedMs = median(runs);
  }

  console.log(`config load: ${realServers} real servers, median ${ipvsdMs.toFixed(1)} ms over ${ROUNDS} runs (budget ${BUDGET_MS} ms)`);
  if (keepalivedMs !== null) console.log(`keepalived -t on the same file: ${keepalivedMs.toFixed(1)} ms (ratio ipvsd/keepalived ${(ipvsdMs / keepalivedMs).toFixed(2)})`);
  console.log(JSON.stringify({
    bench: 'config',
    realServers,
    medianMs: Number(ipvsdMs.toFixed(1)),
    budgetMs: BUDGET_MS,
    withinBudget: ipvsdMs < BUDGET_MS,
    keepalivedMs: keepalivedMs === null ? null : Number(keepalivedMs.toFixed(1)),
  }));
  if (ipvsdMs >= BUDGET_MS) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
