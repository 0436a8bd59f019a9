// The one-armed LVS-NAT lab of keepalived-figures.md: a bridge in the guest's root namespace
// (the director, VIP 10.99.0.100), a client namespace and real-server namespaces, each real
// server running test/lab/http-real-server.js and routing the client through the VIP.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { bridge, createNamespace, execIn, spawnIn, sysctl, vethPair } from './netns.js';
import { until, waitFactor } from './ipvsd-process.js';

export const vip = '10.99.0.100';
export const clientAddress = '10.99.0.50';
const directorAddress = '10.99.0.1';
const realServerScript = fileURLToPath(new URL('./http-real-server.js', import.meta.url));
const clientScript = fileURLToPath(new URL('./client-loop.js', import.meta.url));

/** Real server n (1..) is namespace `rsN` at 10.99.0.(10+n). */
export const realServerAddress = (n: number): string => `10.99.0.${10 + n}`;

/** Builds the bridge, the client namespace and `count` real-server namespaces (not yet serving). */
export function buildLvsNat(count: number): void {
  const ports: string[] = [];
  createNamespace('client');
  vethPair({ name: 'client-eth', ns: 'client', addresses: [`${clientAddress}/24`] }, { name: 'client-br' });
  ports.push('client-br');
  for (let n = 1; n <= count; n++) {
    const ns = createNamespace(`rs${n}`);
    vethPair({ name: `rs${n}-eth`, ns, addresses: [`${realServerAddress(n)}/24`] }, { name: `rs${n}-br` });
    // One-armed NAT: the answer to the client must go back through the director to be un-NATed.
    execIn(ns, ['ip', 'route', 'add', `${clientAddress}/32`, 'via', vip]);
    ports.push(`rs${n}-br`);
  }
  bridge('lvs0', ports, [`${directorAddress}/24`, `${vip}/24`]);
  sysctl(undefined, 'net.ipv4.ip_forward', 1);
  sysctl(undefined, 'net.ipv4.conf.all.send_redirects', 0);
  sysctl(undefined, 'net.ipv4.conf.lvs0.send_redirects', 0);
}

/** A child's stdout as lines, kept as they come. */
export class OutputLines {
  readonly lines: string[] = [];
  #rest = '';

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.#rest + chunk).split('\n');
      this.#rest = parts.pop()!;
      this.lines.push(...parts);
    });
  }

  /** Resolves with Date.now() once a line after `after` matches (within `timeoutMs` times the wait factor). */
  async waitFor(pattern: RegExp, after: number, timeoutMs: number): Promise<number> {
    if (await until(() => this.lines.slice(after).some((l) => pattern.test(l)), timeoutMs, 10)) return Date.now();
    throw new Error(`no line matching ${pattern} within ${timeoutMs * waitFactor} ms: ${JSON.stringify(this.lines.slice(after))}`);
  }
}

/** Waits until each of `servers` answered `rounds` more health checks (its `health ...` lines). */
export async function healthChecksReach(servers: readonly number[], outputOf: (n: number) => OutputLines, rounds: number): Promise<void> {
  const marks = new Map(servers.map((n) => [n, outputOf(n).lines.length]));
  const count = (n: number) => outputOf(n).lines.slice(marks.get(n)).filter((l) => l.startsWith('health ')).length;
  if (!(await until(() => servers.every((n) => count(n) >= rounds), 10_000, 50))) {
    throw new Error(`checks did not reach every real server: ${servers.map((n) => `rs${n} ${count(n)}`).join(', ')}`);
  }
}

/** Starts real server n's HTTP server on port 80; resolves once it listens, with Date.now(). */
export async function startRealServer(n: number): Promise<{ output: OutputLines; listeningAt: number }> {
  const child = spawnIn(`rs${n}`, [process.execPath, realServerScript, realServerAddress(n), '80'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const output = new OutputLines(child);
  const listeningAt = await output.waitFor(/^listening$/, 0, 15_000);
  return { output, listeningAt };
}

export interface ClientRequest {
  at: number;
  ok: boolean;
  why: string;
}

/** The client loop in its namespace: a new connection to the VIP every 50 ms, 1 s timeout. */
export class ClientLoop {
  readonly output: OutputLines;

  constructor() {
    const child = spawnIn('client', [process.execPath, clientScript, vip, '80', '50', '1000'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.output = new OutputLines(child);
  }

  requests(from = 0, to = Infinity): ClientRequest[] {
    const out: ClientRequest[] = [];
    for (const line of this.output.lines) {
      const [at, outcome, ...why] = line.split(' ');
      const t = Number(at);
      if (t >= from && t <= to) out.push({ at: t, ok: outcome === 'ok', why: why.join(' ') });
    }
    return out;
  }

  /** `failed/total` of the requests started in [from, to]. */
  tally(from: number, to = Infinity): { failed: number; total: number; reasons: string[] } {
    const window = this.requests(from, to);
    const failed = window.filter((r) => !r.ok);
    return { failed: failed.length, total: window.length, reasons: [...new Set(failed.map((r) => r.why))] };
  }
}

function hexEndpoint(text: string): string {
  const [hex, port] = text.split(':') as [string, string];
  const bytes = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return `${bytes.join('.')}:${Number.parseInt(port, 16)}`;
}

/**
 * The real servers of one TCP virtual service and their weights, from /proc/net/ip_vs (what
 * `ipvsadm -Ln` prints). Reading it costs a few syscalls; exec'ing ipvsadm costs ~60 ms in UML.
 */
export function destinations(service: string): Map<string, number> | undefined {
  let current: Map<string, number> | undefined;
  let found: Map<string, number> | undefined;
  for (const line of readFileSync('/proc/net/ip_vs', 'utf8').split('\n')) {
    const svc = /^TCP\s+([0-9A-F]{8}:[0-9A-F]{4})\s/.exec(line);
    if (svc) {
      current = hexEndpoint(svc[1]!) === service ? new Map() : undefined;
      if (current) found = current;
      continue;
    }
    if (/^\S/.test(line)) current = undefined;
    const dest = /^\s+->\s+([0-9A-F]{8}:[0-9A-F]{4})\s+\S+\s+(\d+)/.exec(line);
    if (dest && current) current.set(hexEndpoint(dest[1]!), Number(dest[2]));
  }
  return found;
}

/** Polls /proc/net/ip_vs every 20 ms until `ready` holds for the service (`timeoutMs` times the wait factor); resolves with Date.now(). */
export async function waitForTable(service: string, ready: (dests: Map<string, number> | undefined) => boolean, timeoutMs: number, what: string): Promise<number> {
  let dests: Map<string, number> | undefined;
  if (await until(() => ready((dests = destinations(service))), timeoutMs)) return Date.now();
  throw new Error(`${what}: not within ${timeoutMs * waitFactor} ms; table: ${JSON.stringify(dests && [...dests])}`);
}
