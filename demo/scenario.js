// The demo itself, run as root inside the UML guest (demo/run.js boots it): a client, two
// directors running ipvsd with examples/lvs-nat/, three web servers, all in namespaces on one
// bridge. It kills a real server, then the master director; restarts the master and stops it
// properly; and prints what happened next to keepalived's figures. Everything it creates is
// removed at the end, also on failure.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepalived } from './keepalived-figures.js';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** IPVSD_CLI runs another build of ipvsd (as the kernel tests allow); ipvsctl is taken from beside it. */
const cli = process.env.IPVSD_CLI ?? join(repo, 'dist/src/cli/ipvsd.js');
const ctl = join(dirname(cli), 'ipvsctl.js');
const vip = '10.99.0.100';
const bridgeName = 'demo0';
const hosts = [
  { ns: 'demo-client', address: '10.99.0.50' },
  { ns: 'demo-dir1', address: '10.99.0.2' },
  { ns: 'demo-dir2', address: '10.99.0.3' },
  { ns: 'demo-rs1', address: '10.99.0.11' },
  { ns: 'demo-rs2', address: '10.99.0.12' },
  { ns: 'demo-rs3', address: '10.99.0.13' },
];
const logDir = join(process.env.IPVSD_LAB_WORKDIR ?? '/tmp', 'demo-logs');
const startedAt = performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

class DemoError extends Error {
  code = 'DEMO_STEP_FAILED';
}

function say(text) {
  process.stdout.write(`[${seconds(performance.now() - startedAt).padStart(8)}] ${text}\n`);
}

function sh(...argv) {
  return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const inNs = (ns, ...argv) => sh('ip', 'netns', 'exec', ns, ...argv);

/** Processes started here, stopped by pid at the end. */
const children = new Set();

/** A long-running process in a namespace, its output to a log file (and to `onLine`, line by line). */
function start(ns, argv, logName, onLine) {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const log = createWriteStream(join(logDir, logName));
  child.stderr.pipe(log, { end: false });
  let rest = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    log.write(chunk);
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    if (onLine) for (const line of lines) if (line) onLine(line);
  });
  return child;
}

async function waitFor(what, timeoutMs, test) {
  const began = performance.now();
  for (;;) {
    if (await test()) return;
    if (performance.now() - began > timeoutMs) throw new DemoError(`${what} did not happen within ${seconds(timeoutMs)}; logs are in ${logDir}`);
    await sleep(20);
  }
}

/** Runs ip commands from one process (each fork+exec costs tens of ms in the guest). */
function ipBatch(ns, lines) {
  const argv = ns === undefined ? ['ip', '-batch', '-'] : ['ip', '-n', ns, '-batch', '-'];
  execFileSync(argv[0], argv.slice(1), { input: `${lines.join('\n')}\n`, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Set once building began: only then is there anything of ours to remove. */
let topologyStarted = false;

function buildTopology() {
  topologyStarted = true;
  const root = [`link add ${bridgeName} type bridge stp_state 0 forward_delay 0 mcast_snooping 0`, `link set ${bridgeName} up`];
  for (const [i, { ns }] of hosts.entries()) {
    // Created in the root namespace under unique names, then renamed eth0 as the example configs expect.
    root.push(`netns add ${ns}`, `link add demo${i}a type veth peer name demo${i}b`, `link set demo${i}a netns ${ns}`, `link set demo${i}b master ${bridgeName} up`);
  }
  ipBatch(undefined, root);
  for (const [i, { ns, address }] of hosts.entries()) {
    const lines = ['link set lo up', `link set demo${i}a name eth0`, `address add ${address}/24 dev eth0`, 'link set eth0 up'];
    if (ns.startsWith('demo-rs')) lines.push(`route add 10.99.0.50/32 via ${vip}`);
    ipBatch(ns, lines);
  }
  for (const ns of ['demo-dir1', 'demo-dir2']) {
    // NAT replies pass through the director; a redirect would send the servers around it.
    inNs(ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.eth0.send_redirects=0');
  }
}

function removeTopology() {
  if (!topologyStarted) return;
  for (const { ns } of hosts) {
    try {
      sh('ip', 'netns', 'delete', ns);
    } catch {
      // never created
    }
  }
  try {
    sh('ip', 'link', 'delete', bridgeName);
  } catch {
    // never created
  }
}

async function stopChildren() {
  await Promise.all([...children].map((child) => new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r(undefined);
    child.once('exit', r);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  })));
}

const hex = (address) => address.split('.').map((b) => Number(b).toString(16).padStart(2, '0')).join('').toUpperCase();
// A director's kernel state is read through /proc/PID/net of its ipvsd, which shows that process's
// namespace: no fork per poll, so polling every 20 ms is cheap and the times are as precise.
/** The real servers in a director's IPVS table, from ip_vs (what ipvsadm -Ln prints). */
function realServersIn(director) {
  const text = readFileSync(`/proc/${director.pid}/net/ip_vs`, 'utf8');
  return hosts.filter((h) => h.ns.startsWith('demo-rs') && text.includes(`-> ${hex(h.address)}:0050`)).map((h) => h.ns.slice(5));
}
/** Whether the VIP is a local address in the director's namespace (fib_trie lists it as "/32 host LOCAL"). */
function holdsVip(director) {
  const lines = readFileSync(`/proc/${director.pid}/net/fib_trie`, 'utf8').split('\n');
  return lines.some((line, i) => line.trim() === `|-- ${vip}` && (lines[i + 1] ?? '').includes('host LOCAL'));
}

/** Client results between two epoch times. */
function requestsBetween(results, from, to) {
  const inWindow = results.filter((r) => r.t >= from && r.t < to);
  return { sent: inWindow.length, failed: inWindow.filter((r) => !r.ok) };
}

const percent = ({ sent, failed }) => `${sent ? Math.round((100 * failed.length) / sent) : 0} %`;

function failureSummary(failed) {
  const byError = new Map();
  for (const f of failed) byError.set(f.error, (byError.get(f.error) ?? 0) + 1);
  return [...byError].map(([e, n]) => `${n} ${e}`).join(', ') || 'none';
}

function table(ns, socket) {
  if (socket) {
    try {
      return inNs(ns, process.execPath, ctl, 'status', '--socket', socket);
    } catch (err) {
      say(`ipvsctl status failed (${String(err.stderr ?? err.message).trim()}); ipvsadm -Ln instead:`);
    }
  }
  return inNs(ns, 'ipvsadm', '-Ln');
}

async function main() {
  // Namespaces, a bridge and addresses are made here: only ever in a lab guest, never on a host.
  if (process.env.IPVSD_LAB !== '1' || !existsSync('/proc/net/ip_vs')) {
    throw new DemoError('the scenario runs only inside the UML lab guest: use `npm run demo` (node demo/run.js)');
  }
  if (!existsSync(cli)) throw new DemoError(`${cli} is missing: run \`npm run build\` first`);
  mkdirSync(logDir, { recursive: true });
  say(`building the lab: client ${hosts[0].address}, directors dir1 ${hosts[1].address} and dir2 ${hosts[2].address}, real servers rs1..rs3 ${hosts[3].address}..${hosts.at(-1).address}, VIP ${vip}`);
  buildTopology();

  // ipvsctl is used for the table when this build's ipvsd has a control socket (--socket).
  const help = sh(process.execPath, cli, '--help');
  const sockets = help.includes('--socket') && existsSync(ctl);

  // The web servers listen before the directors start, so no check fails while node is starting.
  const listening = new Set();
  for (const rs of ['rs1', 'rs2', 'rs3']) {
    start(`demo-${rs}`, [process.execPath, join(repo, 'demo/real-server.js'), rs], `${rs}.log`, (line) => line === 'listening' && listening.add(rs));
  }
  await waitFor('the web servers listening', 20_000, () => listening.size === 3);
  const logs = { dir1: [], dir2: [] };
  const directors = {};
  const startDirector = (dir, logName) => {
    logs[dir] = [];
    const file = dir === 'dir1' ? 'lb1.conf' : 'lb2.conf';
    const args = [process.execPath, cli, '-f', join(repo, 'examples/lvs-nat', file), '-i', dir];
    if (sockets) args.push('--socket', `/run/ipvsd-demo-${dir}.sock`);
    directors[dir] = start(`demo-${dir}`, args, logName, (line) => {
      try {
        logs[dir].push(JSON.parse(line));
      } catch {
        logs[dir].push({ msg: line });
      }
    });
  };
  startDirector('dir1', 'ipvsd-dir1.log');
  startDirector('dir2', 'ipvsd-dir2.log');
  const results = [];
  start('demo-client', [process.execPath, join(repo, 'demo/client.js'), vip], 'client.log', (line) => results.push(JSON.parse(line)));
  say(`started ipvsd on both directors (examples/lvs-nat/lb1.conf and lb2.conf), three web servers and the client; logs in ${logDir}`);

  for (const dir of ['dir1', 'dir2']) {
    await waitFor(`ipvsd on ${dir} starting`, 30_000, () => {
      if (directors[dir].exitCode !== null) throw new DemoError(`ipvsd on ${dir} exited with status ${directors[dir].exitCode}; see ${logDir}/ipvsd-${dir}.log`);
      return logs[dir].some((l) => l.event === 'started');
    });
  }
  await waitFor('dir1 becoming VRRP master', 15_000, () => holdsVip(directors.dir1) && !holdsVip(directors.dir2));
  await waitFor('all three real servers in dir1\'s table', 15_000, () => realServersIn(directors.dir1).length === 3);
  await waitFor('the client being served through the VIP', 15_000, () => results.slice(-5).length === 5 && results.slice(-5).every((r) => r.ok));
  say('dir1 is master and holds the VIP; the client is served');
  const steadyFrom = Date.now();
  await sleep(2000);
  const steady = requestsBetween(results, steadyFrom, Date.now());
  const served = new Map();
  for (const r of results.filter((x) => x.t >= steadyFrom && x.ok)) served.set(r.by, (served.get(r.by) ?? 0) + 1);
  say(`steady state: ${steady.sent} requests in 2 s, ${steady.failed.length} failed; served by ${[...served].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`);
  say(`the table on dir1 (${sockets ? 'ipvsctl status' : 'ipvsadm -Ln'}):`);
  process.stdout.write(table('demo-dir1', sockets ? '/run/ipvsd-demo-dir1.sock' : undefined));

  // 1. A real server dies: its process is killed, connections to it are refused.
  const rs2 = [...children].find((c) => c.spawnargs.includes('demo-rs2'));
  const killedRs = Date.now();
  const killedRsAt = performance.now();
  rs2.kill('SIGKILL');
  say('killed the web server on rs2 (SIGKILL)');
  await waitFor('rs2 leaving dir1\'s table', 20_000, () => !realServersIn(directors.dir1).includes('rs2'));
  const removalMs = performance.now() - killedRsAt;
  const removedAt = Date.now();
  await sleep(1000);
  const downLogged = logs.dir1.find((l) => l.event === 'real-server-down' && l.realServer === '10.99.0.12:80' && l.time >= killedRs);
  say(`rs2 is out of dir1's table after ${seconds(removalMs)}${downLogged ? ` (ipvsd logged it down after ${seconds(downLogged.time - killedRs)}: ${downLogged.reason})` : ''}`);
  const rsWindow = requestsBetween(results, killedRs, removedAt);
  const afterRemoval = requestsBetween(results, removedAt + 200, Date.now());
  say(`client: ${rsWindow.failed.length} of ${rsWindow.sent} requests failed until then (${failureSummary(rsWindow.failed)}), ${afterRemoval.failed.length} of ${afterRemoval.sent} in the second after`);
  process.stdout.write(table('demo-dir1', sockets ? '/run/ipvsd-demo-dir1.sock' : undefined));

  // 2. The master director dies: ipvsd is killed without a chance to hand over.
  const killedDir = Date.now();
  const killedDirAt = performance.now();
  directors.dir1.kill('SIGKILL');
  say('killed ipvsd on dir1, the master (SIGKILL: no priority-0 advert, the VIP stays behind on dir1)');
  await waitFor('dir2 taking the VIP', 20_000, () => holdsVip(directors.dir2));
  const failoverMs = performance.now() - killedDirAt;
  const failedOverAt = Date.now();
  await sleep(2000);
  const masterLogged = logs.dir2.find((l) => l.to === 'master' && l.time >= killedDir);
  say(`dir2 holds the VIP after ${seconds(failoverMs)}${masterLogged ? ` (ipvsd on dir2 logged MASTER after ${seconds(masterLogged.time - killedDir)})` : ''}`);
  const dirWindow = requestsBetween(results, killedDir, failedOverAt + 2000);
  const servedAfter = results.filter((r) => r.t >= failedOverAt + 1000 && r.ok).length;
  say(`client: ${dirWindow.failed.length} of ${dirWindow.sent} requests failed from the kill until 2 s after the failover (${failureSummary(dirWindow.failed)}); ${servedAfter} served in the last second`);
  say('the table on dir2:');
  process.stdout.write(table('demo-dir2', sockets ? '/run/ipvsd-demo-dir2.sock' : undefined));
  if (servedAfter === 0) throw new DemoError('the client was not served through dir2 after the failover');

  // 3. dir1 comes back and takes the VIP back (it has the higher priority), then is stopped properly.
  const restartedAt = performance.now();
  startDirector('dir1', 'ipvsd-dir1-restarted.log');
  say('restarted ipvsd on dir1');
  await waitFor('ipvsd on dir1 starting again', 30_000, () => logs.dir1.some((l) => l.event === 'started'));
  await waitFor('dir1 taking the VIP back', 20_000, () => holdsVip(directors.dir1) && !holdsVip(directors.dir2));
  const preemptMs = performance.now() - restartedAt;
  say(`dir1 is the only holder of the VIP again ${seconds(preemptMs)} after its ipvsd was started`);
  await sleep(1500);
  const stoppedDir = Date.now();
  const stoppedDirAt = performance.now();
  const exited = new Promise((r) => directors.dir1.once('exit', () => r(performance.now() - stoppedDirAt)));
  directors.dir1.kill('SIGTERM');
  say('stopped ipvsd on dir1 (SIGTERM: it sends priority 0 and releases the VIP)');
  await waitFor('dir2 taking the VIP after the stop', 20_000, () => holdsVip(directors.dir2));
  const handoverMs = performance.now() - stoppedDirAt;
  const exitMs = await exited;
  say(`dir2 holds the VIP after ${seconds(handoverMs)}; ipvsd on dir1 exited after ${seconds(exitMs)}`);
  await sleep(2000);
  const stopWindow = requestsBetween(results, stoppedDir, Date.now());
  say(`client: ${stopWindow.failed.length} of ${stopWindow.sent} requests failed from the stop until 2 s after the handover (${failureSummary(stopWindow.failed)})`);

  const rows = [
    ['', 'ipvsd', 'keepalived 2.2.7 (same lab)'],
    ['real server killed -> out of the table', seconds(removalMs), keepalived.realServerRemoval],
    ['  client requests failed meanwhile', `${rsWindow.failed.length} of ${rsWindow.sent} (${percent(rsWindow)})`, keepalived.realServerClientFailures],
    ['master killed -> backup holds the VIP', seconds(failoverMs), keepalived.failoverAfterKill],
    ['  client requests failed meanwhile', `${dirWindow.failed.length} of ${dirWindow.sent}`, keepalived.failoverClientFailures],
    ['master restarted -> holds the VIP again', seconds(preemptMs), keepalived.preemption],
    ['master stopped -> backup holds the VIP', seconds(handoverMs), keepalived.handoverAfterStop],
    ['  client requests failed meanwhile', `${stopWindow.failed.length} of ${stopWindow.sent}`, keepalived.handoverClientFailures],
    ['  stopped director exited after', seconds(exitMs), keepalived.exitAfterStop],
  ];
  const width = rows.map((r) => r.map((c) => c.length)).reduce((a, b) => a.map((w, i) => Math.max(w, b[i])));
  process.stdout.write('\nSummary (client: one request every 50 ms, 0.5 s timeout; removal and failover: the kernel polled every 20 ms):\n');
  for (const r of rows) process.stdout.write(`  ${r.map((c, i) => c.padEnd(width[i])).join('   ').trimEnd()}\n`);
  process.stdout.write(`\ndemo: finished in ${seconds(performance.now() - startedAt)}\n`);
}

let status = 0;
try {
  await main();
} catch (err) {
  process.stdout.write(`demo: FAILED: ${err instanceof DemoError ? err.message : err.stack}\n`);
  status = 1;
} finally {
  await stopChildren();
  removeTopology();
}
process.exit(status);
