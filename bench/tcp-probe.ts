// TCP_CHECK capacity: N ports on one accept-and-close listener process (python, epoll), each
// probed once per second for BENCH_SECONDS with (a) the connect probe and (b) the half-open
// probe, in the same run. Prints checks/s achieved and CPU per check of this process for both;
// the last line is one JSON object. Needs root (raw sockets). Sizes: BENCH_SIZES=1000,5000.
// The listener runs in a network namespace of its own behind a veth, as a real server would
// (BENCH_LOOPBACK=1: on 127.0.0.1 instead); the namespace is removed at the end.
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { TcpCheck } from '../src/config/model.js';
import type { Probe } from '../checkers/probe.js';
import { tcpProbe } from '../checkers/tcp.js';
import { tcpSynProbe } from '../checkers/tcp-syn.js';

const SIZES = (process.env.BENCH_SIZES ?? '1000,5000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const MODES = (process.env.BENCH_MODES ?? 'connect,half-open').split(',');
const PERIOD_MS = 1000;
const CONNECT_TIMEOUT_MS = 1000;
// Like the scheduler's wake timer under load: each wake starts every probe that is due.
const TICK_MS = 5;
const LOOPBACK = process.env.BENCH_LOOPBACK === '1';
const NAMESPACE = `ipvsd-bench-${process.pid}`;
const HOST_LINK = `ibench${process.pid % 100000}`;
const SUBNET = `10.98.${process.pid % 250}`;
const SERVER_ADDRESS = LOOPBACK ? '127.0.0.1' : `${SUBNET}.2`;

// Listens on N loopback ports, accepts and closes; answers "count" on stdin with accepts so far.
const LISTENER = String.raw`
import os, resource, select, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
n = int(sys.argv[1])
ep = select.epoll()
listeners = {}
for _ in range(n):
    s = socket.socket()
    s.bind((sys.argv[2], 0))
    s.listen(1024)
    s.setblocking(False)
    listeners[s.fileno()] = s
    ep.register(s.fileno(), select.EPOLLIN)
ep.register(0, select.EPOLLIN)
print(' '.join(str(s.getsockname()[1]) for s in listeners.values()), flush=True)
accepted = 0
while True:
    for fd, _ in ep.poll(1024):
        if fd == 0:
            line = sys.stdin.readline()
            if not line:
                sys.exit(0)
            print(accepted, flush=True)
            continue
        s = listeners[fd]
        while True:
            try:
                c, _ = s.accept()
            except BlockingIOError:
                break
            c.close()
            accepted += 1
`;

interface Listener {
  child: ChildProcessByStdio<Writable, Readable, null>;
  lines: Interface;
  ports: number[];
}

function nextLine(lines: Interface): Promise<string> {
  return new Promise((resolve) => lines.once('line', resolve));
}

const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'inherit' });

function createNamespace(): void {
  ip('netns', 'add', NAMESPACE);
  ip('link', 'add', HOST_LINK, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NAMESPACE);
  ip('addr', 'add', `${SUBNET}.1/30`, 'dev', HOST_LINK);
  ip('link', 'set', HOST_LINK, 'up');
  ip('-n', NAMESPACE, 'addr', 'add', `${SERVER_ADDRESS}/30`, 'dev', 'eth0');
  ip('-n', NAMESPACE, 'link', 'set', 'eth0', 'up');
  ip('-n', NAMESPACE, 'link', 'set', 'lo', 'up');
}

function removeNamespace(): void {
  execFileSync('ip', ['link', 'del', HOST_LINK], { stdio: 'ignore' });
  execFileSync('ip', ['netns', 'del', NAMESPACE], { stdio: 'ignore' });
}

async function startListener(n: number): Promise<Listener> {
  const argv = ['python3', '-c', LISTENER, String(n), SERVER_ADDRESS];
  const [command, ...args] = LOOPBACK ? argv : ['ip', 'netns', 'exec', NAMESPACE, ...argv];
  const child = spawn(command!, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const ports = (await nextLine(lines)).split(' ').map(Number);
  return { child, lines, ports };
}

async function accepts(listener: Listener): Promise<number> {
  const line = nextLine(listener.lines);
  listener.child.stdin.write('count\n');
  return Number(await line);
}

/** utime + stime of a process in microseconds. */
function processCpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // USER_HZ is 100 on Linux
}

function spec(port: number): TcpCheck {
  return {
    pos: { file: 'bench', line: 1, column: 1 },
    delayLoopMs: PERIOD_MS,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    retry: 1,
    delayBeforeRetryMs: PERIOD_MS,
    warmupMs: 0,
    alpha: false,
    logAllFailures: false,
    connectIp: { address: SERVER_ADDRESS, family: 'inet' },
    connectPort: port,
    bindTo: undefined,
    bindPort: 0,
    bindInterface: undefined,
    fwmark: 0,
    type: 'TCP_CHECK',
  };
}

interface ModeResult {
  mode: string;
  servers: number;
  checks: number;
  ok: number;
  checksPerSecond: number;
  cpuMicrosPerCheck: number;
  userMicrosPerCheck: number;
  cpuPercent: number;
  listenerCpuPercent: number;
  listenerAccepts: number;
  /** Failed checks by reason, without the target. */
  failures: Record<string, number>;
}

/** Every probe once per period, phases spread over the first period. */
async function measure(mode: string, listener: Listener, make: (spec: TcpCheck) => Probe): Promise<ModeResult> {
  const probes = listener.ports.map((port) => make(spec(port)));
  const n = probes.length;
  const due = new Float64Array(n);
  const running = new Uint8Array(n);
  let checks = 0;
  let ok = 0;
  const failures: Record<string, number> = {};
  const start = performance.now() + 50;
  for (let i = 0; i < n; i++) due[i] = start + (i * PERIOD_MS) / n;
  const end = start + SECONDS * PERIOD_MS;
  const acceptsBefore = await accepts(listener);
  const listenerCpuBefore = processCpuMicros(listener.child.pid!);
  const cpuBefore = process.cpuUsage();
  let cursor = 0;
  const owed = new Uint8Array(n);
  // The clock is read once per tick, not per probe: a clock read is a system call in the guest.
  let now = performance.now();
  let ended = false;
  const run = (i: number): void => {
    running[i] = 1;
    void probes[i]!.run(now + CONNECT_TIMEOUT_MS).then((result) => {
      running[i] = 0;
      if (ended) return;
      checks++;
      if (result.ok) ok++;
      else {
        const why = result.reason.slice(result.reason.indexOf(': ') + 2).replace(/[0-9]+/g, 'N');
        failures[why] = (failures[why] ?? 0) + 1;
      }
      if (owed[i] === 1) {
        owed[i] = 0;
        run(i);
      }
    });
  };
  await new Promise<void>((finish) => {
    const tick = (): void => {
      now = performance.now();
      if (now >= end) {
        ended = true;
        clearInterval(timer);
        finish();
        return;
      }
      // Due times stay in phase order (each moves by whole periods), so one sweep from the cursor finds
      // them; a probe still running when due starts again as soon as it ends.
      for (let seen = 0; seen < n && due[cursor]! <= now; seen++) {
        const i = cursor;
        cursor = (cursor + 1) % n;
        due[i]! += PERIOD_MS;
        if (running[i] === 1) owed[i] = 1;
        else run(i);
      }
    };
    const timer = setInterval(tick, TICK_MS);
  });
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - start;
  const listenerCpu = processCpuMicros(listener.child.pid!) - listenerCpuBefore;
  const listenerAccepts = (await accepts(listener)) - acceptsBefore;
  // Let the last runs settle before closing their probes.
  await new Promise((r) => setTimeout(r, CONNECT_TIMEOUT_MS + 100));
  for (const probe of probes) probe.close?.();
  const cpuMicros = cpu.user + cpu.system;
  return {
    mode,
    servers: n,
    checks,
    ok,
    checksPerSecond: Math.round(checks / (wallMs / 1000)),
    cpuMicrosPerCheck: Math.round((cpuMicros / Math.max(1, checks)) * 10) / 10,
    userMicrosPerCheck: Math.round((cpu.user / Math.max(1, checks)) * 10) / 10,
    cpuPercent: Math.round((cpuMicros / 1000 / wallMs) * 1000) / 10,
    listenerCpuPercent: Math.round((listenerCpu / 1000 / wallMs) * 1000) / 10,
    listenerAccepts,
    failures,
  };
}

const results: ModeResult[] = [];
if (!LOOPBACK) {
  createNamespace();
  process.on('exit', removeNamespace);
}
for (const size of SIZES) {
  const listener = await startListener(size);
  for (const [mode, make] of [
    ['connect', tcpProbe],
    ['half-open', tcpSynProbe],
  ] as const) {
    if (!MODES.includes(mode)) continue;
    const r = await measure(mode, listener, make);
    results.push(r);
    console.log(
      `${mode.padEnd(9)} N=${size}: ${r.checksPerSecond} checks/s (target ${size}), ${r.ok}/${r.checks} up, ` +
        `${r.cpuMicrosPerCheck} µs CPU/check (user ${r.userMicrosPerCheck}), ${r.cpuPercent} % CPU; listener ${r.listenerCpuPercent} % CPU, ${r.listenerAccepts} accepts` +
        (r.ok < r.checks ? `; failed: ${JSON.stringify(r.failures)}` : ''),
    );
  }
  listener.child.stdin.end();
  await new Promise((r) => listener.child.once('exit', r));
}
const ratios = SIZES.flatMap((size) => {
  const connect = results.find((r) => r.servers === size && r.mode === 'connect');
  const halfOpen = results.find((r) => r.servers === size && r.mode === 'half-open');
  if (connect === undefined || halfOpen === undefined) return [];
  return [
    {
      servers: size,
      checksPerSecondRatio: Math.round((halfOpen.checksPerSecond / connect.checksPerSecond) * 100) / 100,
      cpuPerCheckRatio: Math.round((connect.cpuMicrosPerCheck / halfOpen.cpuMicrosPerCheck) * 100) / 100,
    },
  ];
});
console.log(JSON.stringify({ bench: 'tcp-probe', seconds: SECONDS, results, ratios }));
