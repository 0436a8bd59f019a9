// Every vrrp_instance of a configuration, running: the shared sockets, the rtnetlink monitor that
// feeds VIP restores, interface tracking and interfaces that come and go, the trackers, notify
// queues, and one VirtualRouter per instance; reload() applies a new configuration in place. The
// daemon composes this; `main.ts` runs it alone.
import type { Fifo, KeepalivedConfig, TrackedFile, TrackedInterface, TrackedProcess, TrackedScript, VrrpInstance, VrrpSyncGroup } from '../config/model.js';
import type { AddressFamily } from '../netlink/address.js';
import { RouteNetlink, type AddressEvent, type InterfaceAddress, type Link, type LinkEvent } from '../netlink/rtnetlink.js';
import { monotonicClock, type Clock, type TimerHandle } from './clock.js';
import { InterfaceAnnouncer, type Announcer } from './garp.js';
import { notifyState, VirtualRouter, type RouterLog, type VirtualRouterSettings, type VirtualRouterStatus } from './instance.js';
import { InstanceNotifier, type NotifyOutcome, type NotifyState } from './notify.js';
import { fifoLine, NotifyFifo, NotifyFifos } from './notify-fifo.js';
import { AUTH_NONE, AUTH_PASS, passwordBytes, type UnicastPeer } from './packet.js';
import { placeInstance, type Placement } from './placement.js';
import { ProcessWatch, type ProcessWatchOptions } from './process-tracker.js';
import { planReload, shape } from './reload-plan.js';
import { ProcessScriptRunner, type ScriptRunner } from './script-runner.js';
import { SyncGroup } from './sync-group.js';
import { FileTracker, ScriptTracker, trackedPriority, type FileReading, type TrackerReading, type UpDownReading } from './trackers.js';
import { VrrpLink, VrrpLinks, type LinkDropReason, type RouterLink } from './transport.js';
import { virtualAddress, VirtualAddresses, type AddressTable, type VirtualAddress } from './vips.js';
import { VirtualRoutes, type RouteTable } from './routes.js';

export class VrrpRuntimeError extends Error {
  readonly code = 'EVRRPRUNTIME';
}

/** The rtnetlink side the runtime needs: RouteNetlink, or a fake in tests. */
export interface VrrpNetwork extends AddressTable, RouteTable {
  addresses(): Promise<InterfaceAddress[]>;
  links(): Promise<Link[]>;
  on(event: 'address', listener: (event: AddressEvent) => void): unknown;
  on(event: 'link', listener: (event: LinkEvent) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  close(): void;
}

/** Where the runtime's sockets come from; the kernel's by default. */
export interface VrrpSystem {
  openNetwork(): VrrpNetwork;
  openLink(interfaceName: string, family: AddressFamily): RouterLink;
  openAnnouncer(device: string): Announcer & { close(): void };
}

const kernelSystem: VrrpSystem = {
  openNetwork: () => RouteNetlink.open({ events: ['link', 'ipv4-address', 'ipv6-address'] }),
  openLink: (name, family) => VrrpLink.open(name, family),
  openAnnouncer: (device) => new InterfaceAnnouncer(device),
};

export interface VrrpRuntimeOptions {
  clock?: Clock;
  runner?: ScriptRunner;
  log?: RouterLog;
  system?: VrrpSystem;
  onNotify?: (instance: string, outcome: NotifyOutcome) => void;
  /** Every state change of an instance or sync group, as notify scripts see it (sync daemon, smtp_alert). */
  onTransition?: (source: 'INSTANCE' | 'GROUP', name: string, state: NotifyState, priority: number) => void;
  /** How vrrp_track_process reads processes; /proc and the kernel's process events by default. */
  processes?: Pick<ProcessWatchOptions, 'events' | 'reader' | 'pollIntervalMs'>;
  /** The FIFOs the daemon has open: notify_fifo is shared with the LVS lines, not opened twice. */
  fifos?: NotifyFifos;
}

interface RunningGroup {
  config: VrrpSyncGroup;
  sync: SyncGroup;
  members: Running[];
  notifier: InstanceNotifier;
}

/** The socket an instance is attached to, for the interface index it was opened on. */
interface Binding {
  ifindex: number;
  link: RouterLink;
  detach: () => void;
}

interface Running {
  name: string;
  inst: VrrpInstance;
  group?: RunningGroup;
  router: VirtualRouter;
  notifier: InstanceNotifier;
  binding: Binding | undefined;
  /** Settings and VIPs last given to the router, to reconfigure it only when they change. */
  applied: string;
  vips: VirtualAddresses;
  routes: VirtualRoutes;
  /** What keeps the instance from running at all (no interface, no source address): FAULT. */
  problems: string[];
  readings: TrackerReading[];
  interfaces: Map<string, UpDownReading>;
  scripts: ScriptTracker[];
  files: FileTracker[];
  /** Removed by a reload: its scripts and FIFO hear DELETED, not STOP (keepalived). */
  deleted?: boolean;
}

/** Sends each VIP's GARP / NA out of the interface the VIP lives on. */
class DeviceAnnouncer implements Announcer {
  constructor(private readonly byAddress: ReadonlyMap<string, Announcer>) {}

  announce(addresses: readonly string[], repeat: number): void {
    for (const address of addresses) this.byAddress.get(address)?.announce([address], repeat);
  }
}

export class VrrpRuntime {
  private running: Running[] = [];
  private groups: RunningGroup[] = [];
  private readonly announcers = new Map<string, Announcer & { close(): void }>();
  private readonly links: VrrpLinks;
  private fifos: NotifyFifo[] = [];
  private processWatch: ProcessWatch | undefined;
  private startTimer: TimerHandle | undefined;
  private begun = false;
  /** The host's interfaces by name and addresses, kept current from rtnetlink events. */
  private readonly interfaces = new Map<string, Link>();
  private addressList: InterfaceAddress[] = [];
  private readonly log: RouterLog | undefined;

  private constructor(
    private config: KeepalivedConfig,
    private readonly network: VrrpNetwork,
    private readonly system: VrrpSystem,
    private readonly clock: Clock,
    private readonly runner: ScriptRunner,
    private readonly options: VrrpRuntimeOptions,
  ) {
    this.links = new VrrpLinks((name, family) => system.openLink(name, family));
    this.log = options.log;
  }

  static async start(config: KeepalivedConfig, options: VrrpRuntimeOptions = {}): Promise<VrrpRuntime> {
    checkRunnable(config);
    const system = options.system ?? kernelSystem;
    const runtime = new VrrpRuntime(config, system.openNetwork(), system, options.clock ?? monotonicClock, options.runner ?? new ProcessScriptRunner(), options);
    try {
      runtime.fifos = openFifos(config, options.fifos);
      for (const link of await runtime.network.links()) runtime.interfaces.set(link.name, link);
      runtime.addressList = await runtime.network.addresses();
      runtime.running = config.vrrpInstances.map((inst) => runtime.build(inst, true));
      runtime.buildGroups();
      runtime.trackAll(new Map());
    } catch (err) {
      runtime.close();
      throw err;
    }
    runtime.network.on('address', (event: AddressEvent) => runtime.addressChanged(event));
    runtime.network.on('link', (event: LinkEvent) => runtime.linkChanged(event));
    // Events were lost (socket overrun): re-read the links so tracking is right again.
    runtime.network.on('error', () => void runtime.resync());
    const delay = config.globalDefs.vrrp.startupDelayMs;
    if (delay > 0) runtime.startTimer = runtime.clock.setTimer(() => runtime.begin(), delay);
    else runtime.begin();
    return runtime;
  }

  routers(): VirtualRouter[] {
    return this.running.map((r) => r.router);
  }

  status(): VirtualRouterStatus[] {
    return this.running.map((r) => r.router.status());
  }

  /** Each vrrp_sync_group with its state (FAULT if any member is, MASTER only if all are). */
  syncGroupStatus(): Array<{ name: string; state: string; members: string[] }> {
    return this.groups.map((g) => ({ name: g.sync.name, state: g.sync.state(), members: g.members.map((m) => m.name) }));
  }

  /** Per shared socket: datagrams dropped before any instance saw them (bad IP header, unknown VRID). */
  linkStatus(): Array<{ interface: string; family: string; drops: Partial<Record<LinkDropReason, number>> }> {
    return this.links.list().map((l) => ({ interface: l.interfaceName, family: l.family, drops: { ...l.drops } }));
  }

  /**
   * Applies a new configuration as keepalived's reload does: unchanged instances are left alone,
   * changed ones keep their state and take the new settings, those whose interface, VRID, version
   * or ownership changed restart, removed ones stop (priority 0, VIPs released) and new ones start.
   * A configuration this runtime cannot run is refused before anything changes.
   */
  async reload(config: KeepalivedConfig): Promise<void> {
    checkRunnable(config);
    const plans = planReload(this.config, config);
    const byName = new Map(this.running.map((r) => [r.name, r]));
    const leaving = plans.filter((p) => p.change === 'removed' || p.change === 'restart').map((p) => byName.get(p.name)!);
    for (const p of plans) if (p.change === 'removed') byName.get(p.name)!.deleted = true;
    for (const r of leaving) this.stopTrackers(r);
    await Promise.all(leaving.map((r) => r.router.stop()));
    // Detached now (a restarted instance re-attaches its VRID), released once the new ones hold
    // their sockets, so a socket shared with them is not closed and opened again.
    const released = leaving.flatMap((r) => (r.binding ? [r.binding.link] : []));
    for (const r of leaving) {
      r.binding?.detach();
      r.binding = undefined;
    }
    const previousScripts = new Map(this.running.flatMap((r) => r.scripts.map((s) => [shape(s.script), s] as const)));
    for (const r of this.running) this.stopTrackers(r);

    if (shape([config.globalDefs.notifyFifo, config.globalDefs.vrrpNotifyFifo]) !== shape([this.config.globalDefs.notifyFifo, this.config.globalDefs.vrrpNotifyFifo])) {
      for (const f of this.fifos) f.close();
      this.fifos = openFifos(config, this.options.fifos);
    }
    this.config = config;
    const planOf = new Map(plans.map((p) => [p.name, p]));
    this.running = config.vrrpInstances.map((inst) => {
      const plan = planOf.get(inst.name)!;
      const kept = plan.change === 'unchanged' || plan.change === 'changed' ? byName.get(inst.name) : undefined;
      if (plan.change !== 'unchanged') this.log?.info({ event: 'vrrp-instance-reload', instance: inst.name, change: plan.change, reason: plan.reason }, `${inst.name}: ${plan.change}${plan.reason ? ` (${plan.reason})` : ''}`);
      if (!kept) return this.build(inst, false);
      if (shape(kept.inst.notify) !== shape(inst.notify)) kept.notifier = this.notifier(inst.name, inst.notify);
      kept.inst = inst;
      void kept.routes.replace(inst.virtualRoutes, inst.virtualRules).then((failures) => {
        for (const f of failures) this.log?.warn({ event: 'route-change-failed', instance: inst.name, ...f }, `could not ${f.operation} ${f.kind} "${f.line}": ${f.message}`);
      });
      return kept;
    });
    for (const p of plans.filter((p) => p.change === 'removed')) this.log?.info({ event: 'vrrp-instance-reload', instance: p.name, change: p.change }, `${p.name}: removed`);
    const previousGroups = new Map(this.groups.map((g) => [g.config.name, g]));
    for (const r of this.running) r.group = undefined;
    this.buildGroups(previousGroups);
    for (const r of this.running) this.place(r);
    for (const link of released) this.links.release(link);
    this.trackAll(previousScripts);
    if (!this.begun) return;
    for (const r of this.running) {
      this.retrack(r);
      if (r.router.state === 'init') r.router.start();
    }
    this.startTrackers();
  }

  /** Priority-0 adverts, VIPs released, notify_stop run; then every socket closed. */
  async stop(): Promise<void> {
    if (this.startTimer !== undefined) this.clock.clearTimer(this.startTimer);
    this.processWatch?.stop();
    for (const r of this.running) this.stopTrackers(r);
    await Promise.all(this.running.map((r) => r.router.stop()));
    await Promise.all(this.running.map((r) => r.notifier.idle()));
    await Promise.all(this.groups.map((g) => g.notifier.idle()));
    this.close();
  }

  private begin(): void {
    this.startTimer = undefined;
    this.begun = true;
    for (const r of this.running) {
      this.retrack(r);
      r.router.start();
    }
    this.startTrackers();
  }

  private close(): void {
    this.processWatch?.stop();
    for (const r of this.running) this.unbind(r);
    for (const link of this.links.list()) link.close();
    for (const a of this.announcers.values()) a.close();
    for (const f of this.fifos) f.close();
    this.network.close();
  }

  private build(inst: VrrpInstance, starting: boolean): Running {
    const placement = this.placement(inst);
    const vips = new VirtualAddresses(placement.vips, this.network);
    const routes = new VirtualRoutes(inst.virtualRoutes, inst.virtualRules, this.network, (name) => this.interfaces.get(name)?.index);
    const settings = this.settingsOf(inst, placement.primary ?? (inst.family === 'inet' ? '0.0.0.0' : '::'));
    const deps = {
      clock: this.clock,
      // The socket changes when the interface comes back; the router keeps this one sender.
      sender: {
        send: (payload: Buffer, source: string, destination: string, ttl: number) => {
          if (!running.binding) throw new VrrpRuntimeError(`${inst.interface} is not usable`);
          running.binding.link.send(payload, source, destination, ttl);
        },
      },
      vips,
      routes,
      announcer: this.deviceAnnouncer(placement.vips),
      notify: (state: NotifyState, priority: number) => {
        const scripted = running.deleted && state === 'STOP' ? 'DELETED' : state;
        for (const fifo of this.fifos) fifo.write(fifoLine(inst.name, scripted, priority));
        running.notifier.transition(scripted, priority);
        this.options.onTransition?.('INSTANCE', inst.name, state, priority);
      },
      ...(this.log ? { log: this.log } : {}),
    };
    const router = new VirtualRouter(settings, deps);
    const running: Running = {
      name: inst.name,
      inst,
      router,
      notifier: this.notifier(inst.name, inst.notify),
      binding: undefined,
      applied: shape([settings, placement.vips]),
      vips,
      routes,
      problems: [],
      readings: [],
      interfaces: new Map(),
      scripts: [],
      files: [],
    };
    // At start a socket that cannot be opened (no CAP_NET_RAW) stops the start; later it is a FAULT.
    this.bind(running, placement, starting);
    this.setProblems(running, placement.problems);
    return running;
  }

  private notifier(name: string, notify: VrrpInstance['notify'], kind: 'INSTANCE' | 'GROUP' = 'INSTANCE'): InstanceNotifier {
    return new InstanceNotifier(name, notify, this.runner, (outcome) => this.options.onNotify?.(name, outcome), undefined, kind);
  }

  private settingsOf(inst: VrrpInstance, primaryAddress: string): VirtualRouterSettings {
    const globals = this.config.globalDefs.vrrp;
    const unicast = inst.unicastPeers.length > 0;
    return {
      name: inst.name,
      interfaceName: inst.interface,
      vrid: inst.virtualRouterId,
      machine: {
        version: inst.version,
        priority: inst.priority,
        advertIntervalMs: inst.advertIntMs,
        primaryAddress,
        initialState: inst.state === 'MASTER' ? 'master' : 'backup',
        preempt: !inst.nopreempt,
        preemptDelayMs: inst.preemptDelayMs,
        lowerPriorityNoAdvert: inst.lowerPrioNoAdvert,
        higherPrioritySendAdvert: inst.higherPrioSendAdvert,
        downTimerAdverts: inst.downTimerAdverts,
        syncGroup: this.syncGroupsOf(this.config).has(inst.name),
      },
      advertised: inst.virtualIpAddresses.map((v) => v.address),
      authType: inst.version === 2 && inst.authentication ? AUTH_PASS : AUTH_NONE,
      authData: inst.version === 3 ? new Uint8Array(0) : passwordBytes(inst.authentication?.password ?? ''),
      destinations: unicast ? inst.unicastPeers.map((p) => p.address) : [this.groupAddress(inst)],
      unicastPeers: inst.unicastPeers.map((p) => {
        const peer: UnicastPeer = { address: p.address };
        if (p.minTtl !== 0) peer.minTtl = p.minTtl;
        if (p.maxTtl !== 255) peer.maxTtl = p.maxTtl;
        return peer;
      }),
      checkUnicastSource: globals.checkUnicastSrc,
      skipCheckAdvAddr: inst.skipCheckAdvAddr,
      ttl: unicast ? inst.unicastTtl : 255,
      garp: {
        repeat: inst.garpMasterRepeat,
        delayMs: inst.garpMasterDelayMs,
        refreshMs: inst.garpMasterRefreshMs,
        refreshRepeat: inst.garpMasterRefreshRepeat,
        lowerPriorityRepeat: inst.garpLowerPrioRepeat,
        lowerPriorityDelayMs: inst.garpLowerPrioDelayMs,
      },
    };
  }

  private groupAddress(inst: VrrpInstance): string {
    const globals = this.config.globalDefs.vrrp;
    return inst.mcastDstIp?.address ?? (inst.family === 'inet' ? globals.mcastGroup4 : globals.mcastGroup6);
  }

  // keepalived ignores a sync group of one.
  private syncGroupsOf(config: KeepalivedConfig): Set<string> {
    return new Set(config.vrrpSyncGroups.filter((g) => g.instances.length > 1).flatMap((g) => g.instances));
  }

  /** The instance's interface, advert source and VIPs as the host has them now. */
  private placement(inst: VrrpInstance): Placement {
    return placeInstance(inst, this.interfaces, this.addressList);
  }

  /** Re-reads where the instance stands and gives the router what changed; returns whether anything did. */
  private place(r: Running): boolean {
    const placement = this.placement(r.inst);
    const primary = placement.primary ?? r.router.settings.machine.primaryAddress;
    const settings = this.settingsOf(r.inst, primary);
    const applied = shape([settings, placement.vips]);
    let changed = false;
    if (applied !== r.applied) {
      const kept = new Set(placement.vips.map((v) => shape(v)));
      const dropped = new VirtualAddresses(
        r.vips.entries.filter((v) => !kept.has(shape(v))),
        this.network,
      );
      // The same VIPs keep their VirtualAddresses (held flag, counters): the router leaves them be.
      if (shape(r.vips.entries) !== shape(placement.vips)) r.vips = new VirtualAddresses(placement.vips, this.network);
      r.applied = applied;
      r.router.reconfigure(settings, { vips: r.vips, announcer: this.deviceAnnouncer(placement.vips), dropped });
      changed = true;
    }
    this.bind(r, placement, false);
    return this.setProblems(r, placement.problems) || changed;
  }

  private bind(r: Running, placement: Placement, starting: boolean): void {
    if (r.binding && r.binding.ifindex === placement.ifindex) {
      if (r.inst.unicastPeers.length === 0) this.join(r, r.binding.link, starting);
      return;
    }
    this.unbind(r);
    if (placement.ifindex === undefined) return;
    let link: RouterLink | undefined;
    try {
      link = this.links.acquire(r.inst.interface, placement.ifindex, r.inst.family);
      const detach = link.attach(r.inst.virtualRouterId, (packet) => r.router.receive(packet));
      r.binding = { ifindex: placement.ifindex, link, detach };
      if (r.inst.unicastPeers.length === 0) this.join(r, link, starting);
    } catch (err) {
      if (link && !r.binding) this.links.release(link);
      if (starting) throw err;
      placement.problems.push(`cannot use ${r.inst.interface}: ${(err as Error).message}`);
    }
  }

  private join(r: Running, link: RouterLink, starting: boolean): void {
    try {
      link.join(this.groupAddress(r.inst));
    } catch (err) {
      if (starting) throw err;
      this.log?.warn({ event: 'vrrp-join-failed', instance: r.name, interface: r.inst.interface, err: (err as Error).message }, `${r.name}: cannot join the VRRP group on ${r.inst.interface}`);
    }
  }

  private unbind(r: Running): void {
    if (!r.binding) return;
    r.binding.detach();
    this.links.release(r.binding.link);
    r.binding = undefined;
  }

  // Logged when the set changes: an operator must see why an instance sits in FAULT.
  private setProblems(r: Running, problems: string[]): boolean {
    const before = r.problems.join('; ');
    r.problems = problems;
    const now = problems.join('; ');
    if (before === now) return false;
    if (problems.length > 0) {
      this.log?.warn({ event: 'vrrp-instance-unusable', instance: r.name, interface: r.inst.interface, reasons: problems }, `${r.name}: FAULT until ${now} is fixed`);
    } else {
      this.log?.info({ event: 'vrrp-instance-usable', instance: r.name, interface: r.inst.interface }, `${r.name}: ${r.inst.interface} is usable again`);
    }
    return before !== now;
  }

  private deviceAnnouncer(vips: readonly VirtualAddress[]): Announcer {
    return new DeviceAnnouncer(new Map(vips.map((v) => [v.address, this.announcer(v.device, v.ifindex)] as const)));
  }

  private announcer(device: string, ifindex: number): Announcer {
    const key = `${device}/${ifindex}`;
    let a = this.announcers.get(key);
    if (!a) {
      a = this.system.openAnnouncer(device);
      this.announcers.set(key, a);
    }
    return a;
  }

  private buildGroups(previous: ReadonlyMap<string, RunningGroup> = new Map()): void {
    this.groups = this.config.vrrpSyncGroups
      .filter((g) => g.instances.length > 1)
      .map((g) => {
        const members = g.instances.map((name) => this.running.find((r) => r.name === name)!);
        const old = previous.get(g.name);
        const notifier = old && shape(old.config.notify) === shape(g.notify) ? old.notifier : this.notifier(g.name, g.notify, 'GROUP');
        // keepalived reports a group's priority as 0.
        const sync = new SyncGroup(g.name, members.map((m) => m.router), (to) => {
          const state = notifyState[to === 'init' ? 'stopped' : to];
          for (const fifo of this.fifos) fifo.write(fifoLine(g.name, state, 0, 'GROUP'));
          group.notifier.transition(state, 0);
          this.options.onTransition?.('GROUP', g.name, state, 0);
        });
        const group: RunningGroup = { config: g, sync, members, notifier };
        for (const m of members) m.group = group;
        return group;
      });
    for (const r of this.running) if (!r.group) r.router.joinSyncGroup(undefined);
  }

  /** Builds every instance's and group's trackers; a vrrp_script or vrrp_track_process seen before keeps its verdict. */
  private trackAll(previousScripts: ReadonlyMap<string, ScriptTracker>): void {
    const previousWatch = this.processWatch;
    const specs = this.config.vrrpTrackProcesses;
    this.processWatch = specs.length > 0 ? new ProcessWatch(specs, { clock: this.clock, ...(this.log ? { log: this.log } : {}), ...this.options.processes }, previousWatch) : undefined;
    previousWatch?.stop();
    for (const r of this.running) {
      r.readings = [];
      r.interfaces = new Map();
      r.scripts = [];
      r.files = [];
    }
    for (const r of this.running) {
      const inst = r.inst;
      const tracked: TrackedInterface[] = [...inst.trackInterfaces];
      // keepalived tracks the instance's own interface (weight 0: down = FAULT) unless dont_track_primary.
      if (!inst.dontTrackPrimary && !tracked.some((t) => t.name === inst.interface)) tracked.push({ name: inst.interface, weight: 0, reverse: false });
      this.track([r], { interfaces: tracked, scripts: inst.trackScripts, files: inst.trackFiles, processes: inst.trackProcesses }, previousScripts);
    }
    // The group's own track_* apply to every member; one tracker each, not one per member.
    for (const g of this.groups) {
      this.track(g.members, { interfaces: g.config.trackInterfaces, scripts: g.config.trackScripts, files: g.config.trackFiles, processes: g.config.trackProcesses }, previousScripts);
    }
  }

  // Readings shared by `owners`: one tracker per item, whose changes re-evaluate them all.
  private track(
    owners: Running[],
    items: { interfaces: readonly TrackedInterface[]; scripts: readonly TrackedScript[]; files: readonly TrackedFile[]; processes: readonly TrackedProcess[] },
    previousScripts: ReadonlyMap<string, ScriptTracker>,
  ): void {
    const first = owners[0]!;
    const add = (reading: TrackerReading) => {
      for (const o of owners) o.readings.push(reading);
    };
    for (const t of items.interfaces) {
      const reading: UpDownReading = { kind: 'interface', name: t.name, ok: linkUsable(this.interfaces.get(t.name)), weight: t.weight, reverse: t.reverse };
      add(reading);
      for (const o of owners) o.interfaces.set(t.name, reading);
    }
    for (const t of items.scripts) {
      const script = this.config.vrrpScripts.find((s) => s.name === t.name)!;
      const tracker = new ScriptTracker(script, this.runner, this.clock, (ok) => {
        reading.ok = ok;
        for (const o of owners) this.retrack(o);
      });
      const previous = previousScripts.get(shape(script));
      if (previous) tracker.carryOver(previous);
      const reading: UpDownReading = { kind: 'script', name: t.name, ok: tracker.healthy, weight: t.weight ?? script.weight, reverse: t.weight === undefined ? script.weightReverse : t.reverse };
      add(reading);
      first.scripts.push(tracker);
    }
    for (const t of items.files) {
      const file = this.config.trackFiles.find((f) => f.name === t.name)!;
      const reading: FileReading = { kind: 'file', name: t.name, value: 0, weight: t.weight ?? file.weight, reverse: t.weight === undefined ? file.reverse : t.reverse };
      const tracker = new FileTracker(file.file, (value) => {
        reading.value = value;
        for (const o of owners) this.retrack(o);
      });
      reading.value = tracker.value;
      add(reading);
      first.files.push(tracker);
    }
    for (const t of items.processes) {
      const spec = this.config.vrrpTrackProcesses.find((p) => p.name === t.name)!;
      const reading: UpDownReading = { kind: 'process', name: t.name, ok: this.processWatch!.quorum(t.name)!.healthy, weight: t.weight ?? spec.weight, reverse: t.weight === undefined ? spec.reverse : t.reverse };
      add(reading);
      // Counting runs from the start (as keepalived's does); the routers hear of it once they run.
      this.processWatch!.onChange(t.name, (up) => {
        reading.ok = up;
        if (this.begun) for (const o of owners) this.retrack(o);
      });
    }
  }

  private startTrackers(): void {
    for (const r of this.running) {
      for (const s of r.scripts) s.start();
      for (const f of r.files) f.start();
    }
  }

  private stopTrackers(r: Running): void {
    for (const s of r.scripts) s.stop();
    for (const f of r.files) f.stop();
  }

  private async resync(): Promise<void> {
    try {
      const links = await this.network.links();
      const names = new Set(links.map((l) => l.name));
      for (const name of [...this.interfaces.keys()]) if (!names.has(name)) this.linkChanged({ action: 'remove', link: this.interfaces.get(name)! });
      for (const link of links) this.linkChanged({ action: 'add', link });
      this.addressList = await this.network.addresses();
      this.replaceAll();
    } catch {
      // closed while stopping
    }
  }

  private linkChanged(event: LinkEvent): void {
    const { link } = event;
    const names = new Set([link.name]);
    // A rename arrives as an add for a known index under a new name.
    for (const [name, known] of this.interfaces) {
      if (known.index !== link.index || name === link.name) continue;
      this.interfaces.delete(name);
      names.add(name);
    }
    if (event.action === 'add') this.interfaces.set(link.name, link);
    else if (this.interfaces.get(link.name)?.index === link.index) this.interfaces.delete(link.name);
    if (event.action === 'remove') this.addressList = this.addressList.filter((a) => a.ifindex !== link.index);
    const ok = event.action === 'add' && linkUsable(link);
    for (const r of this.running) {
      let changed = false;
      const reading = r.interfaces.get(link.name);
      if (reading && reading.ok !== ok) {
        reading.ok = ok;
        changed = true;
      }
      if ([...names].some((name) => this.uses(r, name)) && this.place(r)) changed = true;
      if (changed && this.begun) this.retrack(r);
    }
  }

  private addressChanged(event: AddressEvent): void {
    const a = event.address;
    const same = (b: InterfaceAddress) => b.ifindex === a.ifindex && b.family === a.family && b.address === a.address && b.local === a.local && b.prefixLength === a.prefixLength;
    this.addressList = this.addressList.filter((b) => !same(b));
    if (event.action === 'add') this.addressList.push(a);
    for (const r of this.running) r.router.addressChanged(event);
    this.replaceAll();
  }

  private replaceAll(): void {
    for (const r of this.running) if (this.place(r) && this.begun) this.retrack(r);
  }

  private uses(r: Running, device: string): boolean {
    return r.inst.interface === device || [...r.inst.virtualIpAddresses, ...r.inst.virtualIpAddressesExcluded].some((e) => e.device === device);
  }

  // A sync group is in FAULT while any member's trackers say so. (The config layer already zeroed
  // member weights unless sync_group_tracking_weight is set.)
  private retrack(r: Running): void {
    const members = r.group?.members ?? [r];
    const label = (m: Running, f: string) => (members.length > 1 ? `${m.name}: ${f}` : f);
    const results = members.map((m) => trackedPriority(m.router.settings.machine.priority, m.readings));
    const faults = [...new Set(members.flatMap((m, i) => [...results[i]!.faults, ...m.problems].map((f) => label(m, f))))];
    members.forEach((m, i) => m.router.track(results[i]!.priority, faults.length > 0, faults));
  }
}

function linkUsable(link: Link | undefined): boolean {
  return link !== undefined && link.up && link.running;
}

function openFifos(config: KeepalivedConfig, shared: NotifyFifos = new NotifyFifos()): NotifyFifo[] {
  // notify_fifo and vrrp_notify_fifo both get the VRRP lines; one FIFO if they name the same path.
  const fifos = [config.globalDefs.notifyFifo, config.globalDefs.vrrpNotifyFifo].filter((f): f is Fifo => f !== undefined);
  const opened: NotifyFifo[] = [];
  try {
    for (const fifo of fifos.filter((f, i) => fifos.findIndex((g) => g.path === f.path) === i)) opened.push(shared.open(fifo));
  } catch (err) {
    for (const f of opened) f.close();
    throw err;
  }
  return opened;
}

/** What the configuration needs that no host state can fix: refused at start and on reload. */
function checkRunnable(config: KeepalivedConfig): void {
  const names = new Set(config.vrrpInstances.map((i) => i.name));
  const check = (where: string, items: { scripts: readonly TrackedScript[]; files: readonly TrackedFile[]; processes: readonly TrackedProcess[] }) => {
    for (const t of items.scripts) if (!config.vrrpScripts.some((s) => s.name === t.name)) throw new VrrpRuntimeError(`${where}: no vrrp_script "${t.name}"`);
    for (const t of items.files) if (!config.trackFiles.some((f) => f.name === t.name)) throw new VrrpRuntimeError(`${where}: no track_file "${t.name}"`);
    for (const t of items.processes) if (!config.vrrpTrackProcesses.some((p) => p.name === t.name)) throw new VrrpRuntimeError(`${where}: no vrrp_track_process "${t.name}"`);
  };
  for (const inst of config.vrrpInstances) {
    if (inst.authentication?.type === 'AH') throw new VrrpRuntimeError(`vrrp_instance ${inst.name}: auth_type AH is not supported`);
    // Scopes and broadcasts resolve without the host (interfaces come and go; those are FAULTs).
    for (const e of [...inst.virtualIpAddresses, ...inst.virtualIpAddressesExcluded]) virtualAddress(e, inst.interface, () => 0);
    check(`vrrp_instance ${inst.name}`, { scripts: inst.trackScripts, files: inst.trackFiles, processes: inst.trackProcesses });
  }
  for (const g of config.vrrpSyncGroups.filter((g) => g.instances.length > 1)) {
    for (const name of g.instances) if (!names.has(name)) throw new VrrpRuntimeError(`vrrp_sync_group ${g.name}: no vrrp_instance "${name}"`);
    check(`vrrp_sync_group ${g.name}`, { scripts: g.trackScripts, files: g.trackFiles, processes: g.trackProcesses });
  }
}
