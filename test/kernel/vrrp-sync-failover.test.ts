// Two directors (ipvsd in namespaces dir1 and dir2) share a VIP by VRRP and run the IPVS
// connection-sync daemon following it (`lvs_sync_daemon eth0 inst VI_1`). A client (the guest's
// root namespace, on the bridge) opens a TCP connection through the VIP to a real server (LVS-DR)
// and keeps it open while dir1 is stopped: dir2 takes the VIP, and because its backup sync daemon
// already holds the connection, the next bytes on the same socket still reach the server. Without
// the synced entry dir2's IPVS would drop the mid-stream segments (no SYN, no connection).
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, sleep } from '../lab/ipvsd-process.js';
import { assertInGuest, bridge, cleanup, createNamespace, execIn, spawnIn, sysctl, vethPair } from '../lab/netns.js';

const VIP = '10.1.0.100';
const RS = '10.1.0.11';
const PORT = 80;
const directors = { dir1: { address: '10.1.0.3', priority: 150, state: 'MASTER' }, dir2: { address: '10.1.0.4', priority: 100, state: 'BACKUP' } } as const;
type Director = keyof typeof directors;

const repo = fileURLToPath(new URL('../../', import.meta.url));
// Not under /tmp: the guest's /tmp is its own tmpfs, and the path must be the same for every process here.
const scratch = join(repo, '.lab', `vrrp-sync-${process.pid}`);

function conf(name: Director): string {
  const d = directors[name];
  return `global_defs {
    router_id ${name}
    lvs_sync_daemon eth0 inst VI_1
}
vrrp_instance VI_1 {
    state ${d.state}
    interface eth0
    virtual_router_id 51
    priority ${d.priority}
    advert_int 0.1
    version 3
    virtual_ipaddress {
        ${VIP}/24
    }
}
virtual_server ${VIP} ${PORT} {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server ${RS} ${PORT} {
        weight 1
    }
}
`;
}

/** One ipvsd inside a director namespace, with its JSON log lines. */
class DirectorProcess {
  readonly child: ChildProcess;
  readonly logs: Array<{ event?: string; msg?: string; [k: string]: unknown }> = [];
  stderr = '';

  constructor(readonly name: Director) {
    const path = join(scratch, `${name}.conf`);
    writeFileSync(path, conf(name));
    // Both directors share the guest's /run: each gets its own control socket.
    const env = { ...process.env, IPVSD_SOCKET: `/run/ipvsd-${name}.sock` };
    this.child = spawnIn(name, [process.execPath, cli, '-f', path], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let rest = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) if (line) this.logs.push(JSON.parse(line) as DirectorProcess['logs'][number]);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  describe(): string {
    return `${this.name}: stderr ${this.stderr}\nlogs ${this.logs.map((l) => JSON.stringify(l)).join('\n')}`;
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    await exited;
  }
}

const holdsVip = (ns: Director) => execIn(ns, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']).includes(` ${VIP}/`);
// `ipvsadm -L --daemon`: "master sync daemon (mcast=eth0, syncid=51)", one line per running daemon.
const syncDaemons = (ns: Director) => execIn(ns, ['ipvsadm', '-L', '--daemon']).trim();
// The connection as each director's IPVS knows it: `ipvsadm -Lnc` lines naming the client and the VIP.
const connections = (ns: Director, client: string) =>
  execIn(ns, ['ipvsadm', '-Lnc']).split('\n').filter((l) => l.includes(`${VIP}:${PORT}`) && l.includes(client));

async function until(what: string, test: () => boolean, timeoutMs: number, detail: () => string = () => ''): Promise<number> {
  const started = performance.now();
  while (!test()) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms\n${detail()}`);
    await sleep(20);
  }
  return performance.now() - started;
}

/** Sends `text` on the socket and resolves with what comes back (the server echoes). */
function roundTrip(socket: Socket, text: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => {
      socket.off('data', onData);
      reject(new Error(`no echo of "${text}" within ${timeoutMs} ms (got "${got}")`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      got += chunk.toString();
      if (got.length >= text.length) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

const running: DirectorProcess[] = [];

beforeAll(() => {
  assertInGuest();
  mkdirSync(scratch, { recursive: true });
  for (const ns of ['dir1', 'dir2', 'rs1']) createNamespace(ns);
  vethPair({ name: 'eth0', ns: 'dir1', addresses: [`${directors.dir1.address}/24`] }, { name: 'd1br' });
  vethPair({ name: 'eth0', ns: 'dir2', addresses: [`${directors.dir2.address}/24`] }, { name: 'd2br' });
  vethPair({ name: 'eth0', ns: 'rs1', addresses: [`${RS}/24`] }, { name: 'r1br' });
  // The guest's root namespace is the client.
  bridge('lvs0', ['d1br', 'd2br', 'r1br'], ['10.1.0.1/24']);
  // DR: the real server accepts the VIP on lo but never answers ARP for it.
  execIn('rs1', ['ip', 'addr', 'add', `${VIP}/32`, 'dev', 'lo']);
  sysctl('rs1', 'net.ipv4.conf.all.arp_ignore', 1);
  sysctl('rs1', 'net.ipv4.conf.all.arp_announce', 2);
  spawnIn('rs1', [process.execPath, '-e', `require('node:net').createServer((s) => s.pipe(s)).listen(${PORT}, '0.0.0.0')`]);
});

afterAll(async () => {
  for (const d of running) await d.stop();
  await cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

describe('lvs_sync_daemon following VRRP', () => {
  it('keeps a TCP connection through the VIP working across a failover', async () => {
    const dir1 = new DirectorProcess('dir1');
    running.push(dir1);
    await until('dir1 owns the VIP', () => holdsVip('dir1'), 20_000, () => dir1.describe());
    const dir2 = new DirectorProcess('dir2');
    running.push(dir2);
    await until('dir2 runs its backup sync daemon', () => /backup/.test(syncDaemons('dir2')), 20_000, () => dir2.describe());
    await until('dir1 runs its master sync daemon', () => /master/.test(syncDaemons('dir1')), 5000, () => dir1.describe());
    expect(syncDaemons('dir1')).not.toMatch(/backup/);
    expect(holdsVip('dir2')).toBe(false);

    const socket = connect({ host: VIP, port: PORT });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = `10.1.0.1:${socket.localPort}`;
    try {
      // A few segments so the master daemon syncs the connection (sync_threshold: the 3rd packet).
      for (let i = 0; i < 4; i++) expect(await roundTrip(socket, `before-${i};`, 3000)).toBe(`before-${i};`);
      const syncedMs = await until('dir2 holds the synced connection', () => connections('dir2', client).length > 0, 10_000, () => execIn('dir2', ['ipvsadm', '-Lnc']));
      expect(connections('dir1', client)[0]).toMatch(/ESTABLISHED/);

      const stoppedAt = performance.now();
      await dir1.stop();
      const takeoverMs = await until('dir2 owns the VIP', () => holdsVip('dir2'), 5000, () => dir2.describe());
      expect(holdsVip('dir1')).toBe(false);
      await until('dir2 runs the master sync daemon', () => /master/.test(syncDaemons('dir2')), 5000, () => dir2.describe());

      // The same socket: data now goes through dir2, which only knows the connection from sync.
      expect(await roundTrip(socket, 'after-failover;', 5000)).toBe('after-failover;');
      expect(connections('dir2', client)[0]).toMatch(/ESTABLISHED/);
      console.log(`vrrp-sync-failover figures: connection synced to dir2 ${Math.round(syncedMs)} ms after the traffic, dir2 owned the VIP ${Math.round(takeoverMs)} ms after SIGTERM, echo after failover ${Math.round(performance.now() - stoppedAt)} ms after SIGTERM`);
    } finally {
      socket.destroy();
    }
    await dir2.stop();
    // With `inst`, stopping the instance stops the daemon too.
    expect(syncDaemons('dir2')).not.toMatch(/master|backup/);
  }, 60_000);
});
