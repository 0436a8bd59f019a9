// The Prometheus view of the status snapshot. Every series is computed at scrape time from one
// snapshot. Per-daemon and per-virtual-server families are custom collectors in a prom-client
// Registry (prom-client formats them); kernel and event counters are exposed with TYPE counter and
// the values the snapshot holds, since prom-client's Counter cannot be set. The per-real-server
// and per-checker families (thousands of series) are written by DestinationSeries, which keeps
// label sets, values and each family's encoded text between scrapes and yields to the event loop
// while it writes: prom-client's per-sample label formatting took ~400 ms at 5000 real servers.
// Names follow peers.md §7 with prefix `ipvsd_`.
import { Registry, type Metric } from 'prom-client';
import type { CheckerStatus, HistogramData, RealServerStatus, StatusSnapshot } from '../daemon/status.js';

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
  readonly #destinations = new DestinationSeries();
  /** The scrape in progress: the next one starts after it, as the families keep state between scrapes. */
  #previous: Promise<unknown> = Promise.resolve();

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
    /** One sample per direction from the virtual server's kernel counters. */
    const inOut = (inKey: 'inPackets' | 'inBytes', outKey: 'outPackets' | 'outBytes') => () =>
      perVs((vs) =>
        vs.kernel
          ? [
              { value: vs.kernel[inKey], labels: { vs: vs.name, direction: 'in' } },
              { value: vs.kernel[outKey], labels: { vs: vs.name, direction: 'out' } },
            ]
          : [],
      );
    add('virtual_server_packets_total', 'Packets through the virtual server (kernel counters)', 'counter', inOut('inPackets', 'outPackets'));
    add('virtual_server_bytes_total', 'Bytes through the virtual server (kernel counters)', 'counter', inOut('inBytes', 'outBytes'));

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

  /** One snapshot for the whole scrape, so every series agrees; the text goes out in slices (see render). */
  async scrape(): Promise<string> {
    const chunks: Buffer[] = [];
    await this.render((chunk) => chunks.push(chunk));
    return Buffer.concat(chunks).toString();
  }

  /**
   * Writes the exposition to `write` in chunks. The snapshot is taken at once; the destination
   * series are then written in slices of about `sliceMs` with the event loop free in between,
   * so health checks and VRRP adverts never wait for a large scrape. Scrapes run one at a time.
   */
  render(write: (chunk: Buffer) => void, sliceMs = defaultSliceMs): Promise<void> {
    const run = this.#previous.then(() => this.#render(write, sliceMs));
    this.#previous = run.catch(() => undefined);
    return run;
  }

  async #render(write: (chunk: Buffer) => void, sliceMs: number): Promise<void> {
    const slice = new Slice(sliceMs); // the snapshot counts in the first slice
    const snapshot = this.source();
    this.#snapshot = snapshot;
    try {
      write(Buffer.from(await this.registry.metrics()));
    } finally {
      this.#snapshot = undefined;
    }
    if (this.options.destinations) await this.#destinations.render(snapshot, write, slice);
  }
}

/** How long a scrape holds the event loop before it yields; a slice ends late by up to 256 rows. */
const defaultSliceMs = 3;

/** How often a render loop looks at the clock (a power of two, minus one). */
const clockMask = 255;

/** Time-boxed work: spent() once the slice's time is, due(i) the same every 256 turns of a loop; next() yields to the loop and starts another. */
class Slice {
  #start = performance.now();

  constructor(private readonly budgetMs: number) {}

  due(i: number): boolean {
    return (i & clockMask) === clockMask && this.spent();
  }

  spent(): boolean {
    return performance.now() - this.#start >= this.budgetMs;
  }

  async next(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.#start = performance.now();
  }
}

const needsEscape = /[\\"\n]/;

function escapeLabel(value: string): string {
  return needsEscape.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/**
 * One per-real-server or per-checker family. A row (a server or a checker) has one series per
 * label suffix; a value of NaN means no sample. The values and the family's text (encoded, after
 * a blank line) are kept between scrapes and the text is written again only when a value changed.
 * No line is kept: strings that outlive a scrape by thousands made the young-generation
 * collections ten times slower.
 */
class SeriesFamily<Row> {
  readonly #header: string;
  #values = new Float64Array(0);
  /** Each series' line up to its value (`name{labels} `), flat: encoding copies it instead of walking nested concatenations. */
  #prefixes: string[] = [];
  /** The prefixes' encoded length, to size a render's buffer. */
  #prefixBytes = 0;
  #text: Buffer | undefined;
  #labels: readonly string[] = [];

  constructor(
    readonly name: string,
    help: string,
    type: 'counter' | 'gauge',
    private readonly suffixes: readonly string[],
    private readonly value: (row: Row, series: number) => number,
  ) {
    this.#header = `\n# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  }

  /** `labels` are the rows' label sets without the closing brace, a new array when the rows changed. */
  async render(rows: readonly Row[], labels: readonly string[], slice: Slice): Promise<Buffer> {
    const width = this.suffixes.length;
    if (labels !== this.#labels) {
      const prefixes: string[] = [];
      for (let r = 0; r < labels.length; r++) {
        if (slice.due(r)) await slice.next();
        for (const suffix of this.suffixes) prefixes.push([this.name, labels[r], suffix, '} '].join(''));
      }
      this.#labels = labels;
      this.#prefixes = prefixes;
      this.#prefixBytes = prefixes.reduce((n, p) => n + Buffer.byteLength(p), 0);
      this.#values = new Float64Array(rows.length * width);
      this.#text = undefined;
    }
    const values = this.#values;
    let changed = this.#text === undefined;
    for (let r = 0; r < rows.length; r++) {
      if (slice.due(r)) await slice.next();
      for (let j = 0; j < width; j++) {
        const v = this.value(rows[r]!, j);
        const i = r * width + j;
        if (v === values[i] || (Number.isNaN(v) && Number.isNaN(values[i]))) continue;
        values[i] = v;
        changed = true;
      }
    }
    if (!changed) return this.#text!;
    // Lines are encoded 256 at a time into one buffer: the text of a whole family as one string
    // would be flattened into a large object in the old generation at every scrape.
    const prefixes = this.#prefixes;
    const out = Buffer.allocUnsafe(Buffer.byteLength(this.#header) + this.#prefixBytes + values.length * maxNumberLength);
    let length = out.write(this.#header);
    let lines = '';
    for (let i = 0; i < values.length; i++) {
      if ((i & clockMask) === clockMask) {
        length += out.write(lines, length);
        lines = '';
        if (slice.spent()) await slice.next();
      }
      const v = values[i]!;
      if (!Number.isNaN(v)) lines += `${prefixes[i]}${v}\n`;
    }
    length += out.write(lines, length);
    return (this.#text = out.subarray(0, length));
  }
}

/** The longest a number and the line's end take (`-1.7976931348623157e+308\n`). */
const maxNumberLength = 25;

const one = [''];
const directions = [',direction="in"', ',direction="out"'];
const overrideKinds = ['drain', 'disable', 'weight'] as const;
const absent = NaN;

/**
 * The per-real-server and per-checker families in Prometheus text format. Label sets are built
 * once per configuration (they change only when a reload changes the servers); see SeriesFamily
 * for what is kept between scrapes.
 */
class DestinationSeries {
  readonly #servers: RealServerStatus[] = [];
  readonly #checkers: CheckerStatus[] = [];
  #serverIds: string[] = [];
  #checkerIds: string[] = [];
  #serverLabels: string[] = [];
  #checkerLabels: string[] = [];

  readonly #serverFamilies: Array<SeriesFamily<RealServerStatus>> = [
    new SeriesFamily('ipvsd_real_server_up', 'Real server alive by its checks (1) or not (0)', 'gauge', one, (rs) => (rs.alive ? 1 : 0)),
    new SeriesFamily('ipvsd_real_server_weight', 'Weight ipvsd gives the real server in the kernel table (absent: not in the table)', 'gauge', one, (rs) => rs.effectiveWeight ?? absent),
    new SeriesFamily('ipvsd_real_server_configured_weight', 'Weight in the configuration', 'gauge', one, (rs) => rs.configuredWeight),
    new SeriesFamily(
      'ipvsd_real_server_override',
      'Run-time override set with ipvsctl (1 for the kind in force)',
      'gauge',
      overrideKinds.map((kind) => `,kind="${kind}"`),
      (rs, j) => (rs.override?.kind === overrideKinds[j] ? 1 : absent),
    ),
    new SeriesFamily('ipvsd_real_server_last_transition_timestamp_seconds', 'When the real server last changed state (Unix time)', 'gauge', one, (rs) => rs.since / 1000),
    new SeriesFamily('ipvsd_real_server_connections_total', 'Connections the kernel scheduled to the real server', 'counter', one, (rs) => rs.kernel?.connections ?? absent),
    new SeriesFamily('ipvsd_real_server_packets_total', 'Packets to and from the real server (kernel counters)', 'counter', directions, (rs, j) =>
      rs.kernel ? (j === 0 ? rs.kernel.inPackets : rs.kernel.outPackets) : absent,
    ),
    new SeriesFamily('ipvsd_real_server_bytes_total', 'Bytes to and from the real server (kernel counters)', 'counter', directions, (rs, j) =>
      rs.kernel ? (j === 0 ? rs.kernel.inBytes : rs.kernel.outBytes) : absent,
    ),
    new SeriesFamily('ipvsd_real_server_active_connections', 'Active connections the kernel holds to the real server', 'gauge', one, (rs) => rs.kernel?.activeConnections ?? absent),
    new SeriesFamily('ipvsd_real_server_inactive_connections', 'Inactive connections the kernel holds to the real server', 'gauge', one, (rs) => rs.kernel?.inactiveConnections ?? absent),
  ];

  readonly #checkerFamilies: Array<SeriesFamily<CheckerStatus>> = [
    new SeriesFamily('ipvsd_check_up', 'Checker verdict: up (1) or down (0)', 'gauge', one, (c) => (c.up ? 1 : 0)),
    new SeriesFamily('ipvsd_check_consecutive_failures', 'Failed checks in a row', 'gauge', one, (c) => c.consecutiveFailures),
  ];

  /** Writes the families, each after a blank line. */
  async render(snapshot: StatusSnapshot, write: (chunk: Buffer) => void, slice: Slice): Promise<void> {
    if (!this.#rows(snapshot)) await this.#relabel(snapshot, slice);
    for (const family of this.#serverFamilies) write(await family.render(this.#servers, this.#serverLabels, slice));
    for (const family of this.#checkerFamilies) write(await family.render(this.#checkers, this.#checkerLabels, slice));
  }

  /** Gathers the snapshot's servers and checkers in order; false when they are not the previous scrape's. */
  #rows(s: StatusSnapshot): boolean {
    const servers = this.#servers;
    const checkers = this.#checkers;
    servers.length = 0;
    checkers.length = 0;
    let same = true;
    for (const vs of s.virtualServers) {
      for (const rs of vs.realServers) {
        same &&= this.#serverIds[servers.length * 2] === vs.name && this.#serverIds[servers.length * 2 + 1] === rs.name;
        servers.push(rs);
        for (const c of rs.checkers) {
          same &&= this.#checkerIds[checkers.length] === c.id;
          checkers.push(c);
        }
      }
    }
    return same && servers.length * 2 === this.#serverIds.length && checkers.length === this.#checkerIds.length;
  }

  /** New label sets (after a reload); the families see new arrays and format every line again. */
  async #relabel(s: StatusSnapshot, slice: Slice): Promise<void> {
    const serverIds: string[] = [];
    const checkerIds: string[] = [];
    const serverLabels: string[] = [];
    const checkerLabels: string[] = [];
    for (const vs of s.virtualServers) {
      const vsLabel = `{vs="${escapeLabel(vs.name)}",rs="`;
      for (const rs of vs.realServers) {
        if (slice.due(serverLabels.length)) await slice.next();
        const labels = `${vsLabel}${escapeLabel(rs.name)}"`;
        serverIds.push(vs.name, rs.name);
        serverLabels.push(labels);
        for (const c of rs.checkers) {
          checkerIds.push(c.id);
          checkerLabels.push(`${labels},check="${escapeLabel(c.id.slice(c.id.lastIndexOf(' ') + 1))}"`);
        }
      }
    }
    this.#serverIds = serverIds;
    this.#checkerIds = checkerIds;
    this.#serverLabels = serverLabels;
    this.#checkerLabels = checkerLabels;
  }
}
