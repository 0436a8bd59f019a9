// track_process wired into the VRRP runtime: a fake /proc and a fake event source, a fake clock
// and host; the instance's FAULT and priority follow the tracked process, across a reload too.
import { afterEach, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText } from '../../src/config/load.js';
import type { KeepalivedConfig } from '../../src/config/model.js';
import type { ProcEvent } from '../../src/netlink/proc-connector.js';
import type { ProcessEventHandlers, ProcessEventSource } from '../../src/vrrp/process-tracker-events.js';
import type { ProcessReader } from '../../src/vrrp/process-tracker-table.js';
import { VrrpRuntime, VrrpRuntimeError } from '../../src/vrrp/runtime.js';
import { FakeClock, FakeHost } from './vrrp-fakes.js';

// priority 100, advert_int 1, VRRPv2: 3 × 1 s + (256 − 100)/256 s.
const MASTER_DOWN_MS = 3000 + (156 * 1000) / 256;

function conf(trackProcess: string, track: string, o: { vips?: string[]; priority?: number } = {}): KeepalivedConfig {
  const text = `${trackProcess}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority ${o.priority ?? 100}
  advert_int 1
  garp_master_delay 0
  track_process {
    ${track}
  }
  virtual_ipaddress {
${(o.vips ?? ['10.99.0.100/24']).map((v) => `    ${v}`).join('\n')}
  }
}
`;
  const { config, diagnostics } = loadConfigText(text, 'k.conf', { configId: 'lb1', env: {} });
  if (!config) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return config;
}

class FakeProc implements ProcessReader {
  readonly names = new Map<number, string>();
  pids(): number[] {
    return [...this.names.keys()];
  }
  identity(pid: number) {
    const comm = this.names.get(pid);
    return comm === undefined ? undefined : { comm, cmdline: undefined };
  }
}

/** Every source the runtime opened; the last one is live. */
class FakeEvents {
  readonly opened: Array<{ handlers: ProcessEventHandlers; closed: boolean }> = [];
  source(): ProcessEventSource {
    const entry = { handlers: undefined as unknown as ProcessEventHandlers, closed: false };
    return {
      start: (handlers) => {
        entry.handlers = handlers;
        this.opened.push(entry);
        handlers.confirmed();
      },
      close: () => {
        entry.closed = true;
      },
    };
  }
  emit(...events: ProcEvent[]): void {
    this.opened.at(-1)!.handlers.events(events);
  }
}

const exec = (pid: number): ProcEvent => ({ kind: 'exec', cpu: 0, seq: 0, pid, tgid: pid });
const exit = (pid: number): ProcEvent => ({ kind: 'exit', cpu: 0, seq: 0, pid, tgid: pid, exitCode: 0, exitSignal: 17 });

let running: VrrpRuntime | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function world(config: KeepalivedConfig, proc: FakeProc) {
  const clock = new FakeClock();
  const host = new FakeHost(clock);
  host.createInterface('eth0', '10.99.0.2/24');
  const events = new FakeEvents();
  const logs: Array<Record<string, unknown>> = [];
  const log = { info: (f: object) => logs.push(f as Record<string, unknown>), warn: (f: object) => logs.push(f as Record<string, unknown>) };
  // Each ProcessWatch (one per configuration) asks for its own source.
  const processes = { reader: proc, get events() { return events.source(); } };
  const runtime = await VrrpRuntime.start(config, { clock, log, system: host, processes });
  running = runtime;
  await clock.advance(0);
  const state = () => runtime.status()[0]!;
  const lastPriority = () => host.link('eth0').sent.at(-1)!.advert.priority;
  return { clock, host, events, logs, runtime, state, lastPriority };
}

describe('track_process in the VRRP runtime', () => {
  const nginx = 'vrrp_track_process chk_nginx {\n  process nginx\n  terminate_delay 2\n}\n';

  it('weight 0: FAULT when the process exits (after terminate_delay), back when it runs again', async () => {
    const proc = new FakeProc();
    proc.names.set(10, 'nginx');
    const w = await world(conf(nginx, 'chk_nginx'), proc);
    await w.clock.advance(MASTER_DOWN_MS);
    expect(w.state().state).toBe('master');
    proc.names.delete(10);
    w.events.emit(exit(10));
    await w.clock.advance(1999);
    expect(w.state().state).toBe('master');
    await w.clock.advance(1);
    expect(w.state()).toMatchObject({ state: 'fault', faultReasons: ['process chk_nginx'] });
    expect(w.logs).toContainEqual(expect.objectContaining({ event: 'vrrp-track-process', name: 'chk_nginx', up: false, processes: 0 }));
    proc.names.set(11, 'nginx');
    w.events.emit(exec(11));
    await w.clock.advance(0);
    expect(w.state().fault).toBe(false);
  });

  it('starts in FAULT when the process is not running', async () => {
    const w = await world(conf(nginx, 'chk_nginx'), new FakeProc());
    await w.clock.advance(MASTER_DOWN_MS);
    expect(w.state()).toMatchObject({ state: 'fault', faultReasons: ['process chk_nginx'] });
  });

  it('a weight moves the advertised priority while the quorum holds', async () => {
    const proc = new FakeProc();
    proc.names.set(10, 'nginx');
    const w = await world(conf(nginx, 'chk_nginx weight 20'), proc);
    await w.clock.advance(MASTER_DOWN_MS);
    expect(w.lastPriority()).toBe(120);
    proc.names.delete(10);
    w.events.emit(exit(10));
    await w.clock.advance(3000);
    expect(w.lastPriority()).toBe(100);
  });

  it('a reload keeps the verdict and the running terminate_delay (even with a new weight), and opens a new event source', async () => {
    const weighted = (weight: number) => `vrrp_track_process chk_nginx {\n  process nginx\n  terminate_delay 2\n  weight ${weight}\n}\n`;
    const proc = new FakeProc();
    proc.names.set(10, 'nginx');
    const w = await world(conf(weighted(-30), 'chk_nginx', { priority: 150 }), proc);
    await w.clock.advance(MASTER_DOWN_MS);
    expect(w.lastPriority()).toBe(150);
    proc.names.delete(10);
    w.events.emit(exit(10));
    await w.clock.advance(1000);
    // A new weight changes what the verdict does, not the verdict or its running delay.
    await w.runtime.reload(conf(weighted(-40), 'chk_nginx', { priority: 150, vips: ['10.99.0.100/24', '10.99.0.101/24'] }));
    expect(w.events.opened.map((o) => o.closed)).toEqual([true, false]);
    await w.clock.advance(999);
    expect(w.lastPriority()).toBe(150);
    await w.clock.advance(1001);
    expect(w.lastPriority()).toBe(110);
  });

  it('refuses a track_process naming no vrrp_track_process (config built elsewhere)', async () => {
    const config = conf(nginx, 'chk_nginx');
    config.vrrpTrackProcesses = [];
    await expect(VrrpRuntime.start(config, { clock: new FakeClock(), system: new FakeHost(new FakeClock()) })).rejects.toThrow(VrrpRuntimeError);
  });
});
