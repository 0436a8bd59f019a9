// The Prometheus view of the status snapshot. Every series is computed at scrape time from one
// snapshot. Per-daemon and per-virtual-server families are custom collectors in a prom-client
// Registry (prom-client formats them); kernel and event counters are exposed with TYPE counter and
// the values the snapshot holds, since prom-client's Counter cannot be set. The per-real-server
// and per-checker families (thousands of series) are written in one pass by destinationFamilies:
// prom-client's per-sample label formatting took ~400 ms at 5000 real servers. Names follow
// peers.md §7 with prefix `ipvsd_`.
import { Registry, type Metric } from 'prom-client';
import type { HistogramData, StatusSnapshot } from '../daemon/status.js';

export interface MetricsOptions {
  /** false: no per-real-server and per-checker series (very large pools). */
  destinations: boolean;
}

type Labels = Record<string, string | number>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}

/** A metric whose samples come from the scrape's snapshot. */
class SnapshotMetric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly samples: () => Sample[],
  ) {}

  readonly aggregator = 'sum';

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() };
  }
}

const vrrpStateValue: Record<string, number> = { init: 0, backup: 1, master: 2, fault: 3 };
const seconds = (ms: number | undefined): number => (ms === undefined ? 0 : ms / 1000);

function histogramSamples(name: string, data: HistogramData, labels: Labels): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  data.buckets.forEach((le, i) => {
    cumulative += data.counts[i]!;
    out.push({ metricName: `${name}_bucket`, value: cumulative, labels: { ...labels, le } });
  });
  out.push({ metricName: `${name}_bucket`, value: data.count, labels: { ...labels, le: '+Inf' } });
  out.push({ metricName: `${name}_sum`, value: data.sum, labels });
  out.push({ metricName: `${name}_count`, value: data.count, labels });
  return out;
}

export class StatusMetrics {
  readonly registry = new Registry();
  #snapshot: StatusSnapshot | undefined;

  constructor(
    private readonly source: () => StatusSnapshot,
    private readonly options: MetricsOptions,
  ) {
    const s = (): StatusSnapshot => this.#snapshot!;
    const add = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram', samples: () => Sample[]) =>
      // A custom collector: prom-client only calls get() and reads name/help/type.
      this.registry.registerMetric(new SnapshotMetric(`ipvsd_${name}`, help, type, samples) as unknown as Metric);
    const perVs = <T>(f: (vs: StatusSnapshot['virtualServers'][number]) => T[]) => s().virtualServers.flatMap(f);

    add('build_info', 'ipvsd version and the Node.js it runs on', 'gauge', () => [{ value: 1, labels: { version: s().version, nodejs: process.version } }]);
    add('start_time_seconds', 'When ipvsd started (Unix time)', 'gauge', () => [{ value: seconds(s().startedAt), labels: {} }]);
    add('config_last_reload_successful', 'Whether the last configuration reload was accepted', 'gauge', () => [{ value: s().config.lastReload?.ok === false ? 0 : 1, labels: {} }]);
    add('config_last_reload_success_timestamp_seconds', 'When the running configuration was loaded (Unix time)', 'gauge', () => [{ value: seconds(s().config.loadedAt), labels: {} }]);
    add('config_reloads_total', 'Configuration reloads by result', 'counter', () => [
      { value: s().config.reloads.success, labels: { result: 'success' } },
      { value: s().config.reloads.failure, labels: { result: 'failure' } },
    ]);

    add('virtual_server_info', 'Each virtual server and the kernel services it is laid out as', 'gauge', () =>
      perVs((vs) => [{ value: 1, labels: { vs: vs.name, services: vs.services.join(','), scheduler: vs.scheduler, forward: vs.forwarding } }]),
    );
    add('virtual_server_up', 'Quorum met (1) or not (0)', 'gauge', () => perVs((vs) => [{ value: vs.quorum.up ? 1 : 0, labels: { vs: vs.name } }]));
    add('virtual_server_live_weight', 'Sum of the effective weights of alive real servers', 'gauge', () => perVs((vs) => [{ value: vs.quorum.liveWeight, labels: { vs: vs.name } }]));
    add('virtual_server_quorum_weight', 'The quorum the live weight is compared with', 'gauge', () => perVs((vs) => [{ value: vs.quorum.quorum, labels: { vs: vs.name } }]));
    add('virtual_server_sorry_server_active', 'The sorry server stands in for the real servers', 'gauge', () =>
      perVs((vs) => (vs.sorryServer ? [{ value: vs.sorryServer.active ? 1 : 0, labels: { vs: vs.name } }] : [])),
    );
    add('virtual_server_real_servers', 'Real servers by state', 'gauge', () =>
      perVs((vs) => {
        const counts: Record<string, number> = { up: 0, down: 0, drained: 0, disabled: 0 };
        for (const rs of vs.realServers) counts[rs.state]!++;
        return Object.entries(counts).map(([state, value]) => ({ value, labels: { vs: vs.name, state } }));
      }),
    );
    add('virtual_server_connections_total', 'Connections the kernel scheduled for the virtual server', 'counter', () =>
      perVs((vs) => (vs.kernel ? [{ value: vs.kernel.connections, labels: { vs: vs.name } }] : [])),
    );
    add('virtual_server_packets_total', 'Packets through the virtual server (kernel counters)', 'counter', () =>
      perVs((vs) =>
        vs.kernel
          ? [
              { value: vs.kernel.inPackets, labels: { vs: vs.name, direction: 'in' } },
              { value: vs.kernel.outPackets, labels: { vs: vs.name, direction: 'out' } },
            ]
          : [],
      ),
    );
    add('virtual_server_bytes_total', 'Bytes through the virtual server (kernel counters)', 'counter', () =>
      perVs((vs) =>
        vs.kernel
          ? [
              { value: vs.kernel.inBytes, labels: { vs: vs.name, direction: 'in' } },
              { value: vs.kernel.outBytes, labels: { vs: vs.name, direction: 'out' } },
            ]
          : [],
      ),
    );

    add('check_results_total', 'Check results by checker type and result', 'counter', () =>
      Object.entries(s().checks.results).flatMap(([type, r]) => [
        { value: r.success, labels: { check_type: type, result: 'success' } },
        { value: r.failure, labels: { check_type: type, result: 'failure' } },
      ]),
    );
    add('check_duration_seconds', 'How long checks took, by checker type', 'histogram', () =>
      Object.entries(s().checks.durations).flatMap(([type, h]) => histogramSamples('ipvsd_check_duration_seconds', h, { check_type: type })),
    );

    const vrrp = (f: (i: StatusSnapshot['vrrp']['instances'][number]) => Sample[]) => s().vrrp.instances.flatMap(f);
    add('vrrp_state', 'VRRP state: 0 init, 1 backup, 2 master, 3 fault', 'gauge', () =>
      vrrp((i) => [{ value: vrrpStateValue[i.state] ?? 0, labels: { vrrp_instance: i.name, vrid: i.vrid, interface: i.interface } }]),
    );
    add('vrrp_priority', 'Effective VRRP priority (after tracking)', 'gauge', () => vrrp((i) => [{ value: i.priority, labels: { vrrp_instance: i.name } }]));
    add('vrrp_base_priority', 'Configured VRRP priority', 'gauge', () => vrrp((i) => [{ value: i.basePriority, labels: { vrrp_instance: i.name } }]));
    add('vrrp_adverts_sent_total', 'VRRP adverts sent', 'counter', () => vrrp((i) => [{ value: i.counters.advertsSent, labels: { vrrp_instance: i.name } }]));
    add('vrrp_adverts_received_total', 'VRRP adverts received', 'counter', () => vrrp((i) => [{ value: i.counters.advertsReceived, labels: { vrrp_instance: i.name } }]));
    add('vrrp_adverts_dropped_total', 'VRRP adverts dropped by the receive checks, by reason', 'counter', () =>
      vrrp((i) => Object.entries(i.counters.drops).map(([reason, value]) => ({ value: value ?? 0, labels: { vrrp_instance: i.name, reason } }))),
    );
    add('vrrp_transitions_total', 'VRRP state transitions', 'counter', () => vrrp((i) => [{ value: i.counters.transitions, labels: { vrrp_instance: i.name } }]));
    add('vrrp_last_transition_timestamp_seconds', 'When the instance last changed state (Unix time)', 'gauge', () =>
      vrrp((i) => (i.lastTransition ? [{ value: seconds(i.lastTransition.at), labels: { vrrp_instance: i.name } }] : [])),
    );

    add('reconcile_runs_total', 'Reconcile passes by kind', 'counter', () => Object.entries(s().reconcile.runs).map(([pass, value]) => ({ value, labels: { pass } })));
    add('reconcile_operations_total', 'IPVS operations sent to the kernel by kind', 'counter', () =>
      Object.entries(s().reconcile.operations).map(([op, value]) => ({ value, labels: { op } })),
    );
    add('reconcile_errors_total', 'Operations the kernel refused and passes that failed', 'counter', () => [{ value: s().reconcile.errors, labels: {} }]);
    add('reconcile_duration_seconds', 'How long reconcile passes took', 'histogram', () => histogramSamples('ipvsd_reconcile_duration_seconds', s().reconcile.durations, {}));
    add('kernel_read_timestamp_seconds', 'When the kernel counters were last read (Unix time)', 'gauge', () =>
      s().kernelReadAt === undefined ? [] : [{ value: seconds(s().kernelReadAt), labels: {} }],
    );
  }

  /** One snapshot for the whole scrape, so every series agrees. */
  async scrape(): Promise<string> {
    const snapshot = this.source();
    this.#snapshot = snapshot;
    try {
      const text = await this.registry.metrics();
      return this.options.destinations ? `${text}\n${destinationFamilies(snapshot)}` : text;
    } finally {
      this.#snapshot = undefined;
    }
  }
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  lines: string[];
}

const needsEscape = /[\\"\n]/;

function escapeLabel(value: string): string {
  return needsEscape.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/** The per-real-server and per-checker families in Prometheus text format, one pass over the servers. */
export function destinationFamilies(s: StatusSnapshot): string {
  const family = (name: string, type: Family['type'], help: string): Family => ({ name: `ipvsd_${name}`, help, type, lines: [] });
  const up = family('real_server_up', 'gauge', 'Real server alive by its checks (1) or not (0)');
  const weight = family('real_server_weight', 'gauge', 'Weight ipvsd gives the real server in the kernel table (absent: not in the table)');
  const configured = family('real_server_configured_weight', 'gauge', 'Weight in the configuration');
  const override = family('real_server_override', 'gauge', 'Run-time override set with ipvsctl (1 for the kind in force)');
  const since = family('real_server_last_transition_timestamp_seconds', 'gauge', 'When the real server last changed state (Unix time)');
  const conns = family('real_server_connections_total', 'counter', 'Connections the kernel scheduled to the real server');
  const packets = family('real_server_packets_total', 'counter', 'Packets to and from the real server (kernel counters)');
  const bytes = family('real_server_bytes_total', 'counter', 'Bytes to and from the real server (kernel counters)');
  const active = family('real_server_active_connections', 'gauge', 'Active connections the kernel holds to the real server');
  const inactive = family('real_server_inactive_connections', 'gauge', 'Inactive connections the kernel holds to the real server');
  const checkUp = family('check_up', 'gauge', 'Checker verdict: up (1) or down (0)');
  const failures = family('check_consecutive_failures', 'gauge', 'Failed checks in a row');
  for (const vs of s.virtualServers) {
    const vsLabel = `vs="${escapeLabel(vs.name)}",rs="`;
    for (const rs of vs.realServers) {
      const l = `{${vsLabel}${escapeLabel(rs.name)}"`;
      up.lines.push(`${up.name}${l}} ${rs.alive ? 1 : 0}`);
      if (rs.effectiveWeight !== undefined) weight.lines.push(`${weight.name}${l}} ${rs.effectiveWeight}`);
      configured.lines.push(`${configured.name}${l}} ${rs.configuredWeight}`);
      if (rs.override) override.lines.push(`${override.name}${l},kind="${rs.override.kind}"} 1`);
      since.lines.push(`${since.name}${l}} ${rs.since / 1000}`);
      const k = rs.kernel;
      if (k) {
        conns.lines.push(`${conns.name}${l}} ${k.connections}`);
        packets.lines.push(`${packets.name}${l},direction="in"} ${k.inPackets}`, `${packets.name}${l},direction="out"} ${k.outPackets}`);
        bytes.lines.push(`${bytes.name}${l},direction="in"} ${k.inBytes}`, `${bytes.name}${l},direction="out"} ${k.outBytes}`);
        active.lines.push(`${active.name}${l}} ${k.activeConnections}`);
        inactive.lines.push(`${inactive.name}${l}} ${k.inactiveConnections}`);
      }
      for (const c of rs.checkers) {
        const cl = `${l},check="${escapeLabel(c.id.slice(c.id.lastIndexOf(' ') + 1))}"}`;
        checkUp.lines.push(`${checkUp.name}${cl} ${c.up ? 1 : 0}`);
        failures.lines.push(`${failures.name}${cl} ${c.consecutiveFailures}`);
      }
    }
  }
  return [up, weight, configured, override, since, conns, packets, bytes, active, inactive, checkUp, failures]
    .map((f) => `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n${f.lines.join('\n')}${f.lines.length ? '\n' : ''}`)
    .join('\n');
}
