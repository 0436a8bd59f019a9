// Every vrrp_instance of a configuration, running: the shared sockets, the rtnetlink monitor that
// feeds VIP restores and interface tracking, the trackers, notify queues, and one VirtualRouter per
// instance. The daemon composes this; `main.ts` runs it alone.
import type { KeepalivedConfig, TrackedFile, TrackedInterface, TrackedScript, VrrpInstance, VrrpSyncGroup } from '../config/model.js';
import { interfaceIndex } from '../native/index.js';
import { parseAddress } from '../netlink/address.js';
import { RouteNetlink, type AddressEvent, type InterfaceAddress, type LinkEvent } from '../netlink/rtnetlink.js';
import { monotonicClock, type Clock, type TimerHandle } from './clock.js';
import { InterfaceAnnouncer, type Announcer } from './garp.js';
import { VirtualRouter, type RouterLog, type VirtualRouterSettings, type VirtualRouterStatus } from './instance.js';
import { InstanceNotifier, type NotifyOutcome, type NotifyState } from './notify.js';
import { fifoLine, NotifyFifo } from './notify-fifo.js';
import { AUTH_NONE, AUTH_PASS, passwordBytes, type UnicastPeer } from './packet.js';
import { ProcessScriptRunner, type ScriptRunner } from './script-runner.js';
import { SyncGroup } from './sync-group.js';
import { FileTracker, ScriptTracker, trackedPriority, type FileReading, type TrackerReading, type UpDownReading } from './trackers.js';
import { VrrpLink, VrrpLinks, type LinkDropReason } from './transport.js';
import { virtualAddress, VirtualAddresses } from './vips.js';

const IFA_F_SECONDARY = 0x01;

export class VrrpRuntimeError extends Error {
  readonly code = 'EVRRPRUNTIME';
}

export interface VrrpRuntimeOptions {
  clock?: Clock;
  runner?: ScriptRunner;
  log?: RouterLog;
  onNotify?: (instance: string, outcome: NotifyOutcome) => void;
  /** Every state change of an instance or sync group, as notify scripts see it (sync daemon, smtp_alert). */
  onTransition?: (source: 'INSTANCE' | 'GROUP', name: string, state: NotifyState, priority: number) => void;
}

interface RunningGroup {
  sync: SyncGroup;
  members: Running[];
  notifier: InstanceNotifier;
}

interface Running {
  name: string;
  group?: RunningGroup;
  router: VirtualRouter;
  link: VrrpLink;
  detach: () => void;
  notifier: InstanceNotifier;
  readings: TrackerReading[];
  interfaces: Map<string, UpDownReading>;
  scripts: ScriptTracker[];
  files: FileTracker[];
}

/** Sends each VIP's GARP / NA out of the interface the VIP lives on. */
class DeviceAnnouncer implements Announcer {
  constructor(private readonly byAddress: ReadonlyMap<string, InterfaceAnnouncer>) {}

  announce(addresses: readonly string[], repeat: number): void {
    for (const address of addresses) this.byAddress.get(address)?.announce([address], repeat);
  }
}

export class VrrpRuntime {
  private readonly running: Running[] = [];
  private readonly announcers = new Map<string, InterfaceAnnouncer>();
  private readonly links = new VrrpLinks();
  private readonly fifos: NotifyFifo[] = [];
  private startTimer: TimerHandle | undefined;

  private constructor(
    private readonly rtnl: RouteNetlink,
    private readonly clock: Clock,
  ) {}

  static async start(config: KeepalivedConfig, options: VrrpRuntimeOptions = {}): Promise<VrrpRuntime> {
    const clock = options.clock ?? monotonicClock;
    const runner = options.runner ?? new ProcessScriptRunner();
    const rtnl = RouteNetlink.open({ events: ['link', 'ipv4-address', 'ipv6-address'] });
    const runtime = new VrrpRuntime(rtnl, clock);
    try {
      // notify_fifo and vrrp_notify_fifo both get the VRRP lines; one FIFO if they name the same path.
      const fifos = [config.globalDefs.notifyFifo, config.globalDefs.vrrpNotifyFifo].filter((f) => f !== undefined);
      for (const fifo of fifos.filter((f, i) => fifos.findIndex((g) => g.path === f.path) === i)) runtime.fifos.push(NotifyFifo.open(fifo));
      const addresses = await rtnl.addresses();
      // keepalived ignores a sync group of one.
      const groups = config.vrrpSyncGroups.filter((g) => g.instances.length > 1);
      const grouped = new Set(groups.flatMap((g) => g.instances));
      for (const instance of config.vrrpInstances) runtime.running.push(runtime.build(config, instance, addresses, runner, options, grouped.has(instance.name)));
      for (const g of groups) runtime.group(config, g, runner, options);
      for (const link of await rtnl.links()) runtime.linkChanged({ action: 'add', link });
    } catch (err) {
      runtime.close();
      throw err;
    }
    rtnl.on('address', (event: AddressEvent) => {
      for (const r of runtime.running) r.router.addressChanged(event);
    });
    rtnl.on('link', (event: LinkEvent) => runtime.linkChanged(event));
    // Events were lost (socket overrun): re-read the links so tracking is right again.
    rtnl.on('error', () => void runtime.resyncLinks());
    const begin = () => {
      runtime.startTimer = undefined;
      for (const r of runtime.running) {
        runtime.retrack(r);
        r.router.start();
        for (const s of r.scripts) s.start();
        for (const f of r.files) f.start();
      }
    };
    const delay = config.globalDefs.vrrp.startupDelayMs;
    if (delay > 0) runtime.startTimer = clock.setTimer(begin, delay);
    else begin();
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
    const groups = [...new Set(this.running.flatMap((r) => (r.group ? [r.group] : [])))];
    return groups.map((g) => ({ name: g.sync.name, state: g.sync.state(), members: g.members.map((m) => m.name) }));
  }

  /** Per shared socket: datagrams dropped before any instance saw them (bad IP header, unknown VRID). */
  linkStatus(): Array<{ interface: string; family: string; drops: Partial<Record<LinkDropReason, number>> }> {
    return this.links.list().map((l) => ({ interface: l.interfaceName, family: l.family, drops: { ...l.drops } }));
  }

  /** Priority-0 adverts, VIPs released, notify_stop run; then every socket closed. */
  async stop(): Promise<void> {
    if (this.startTimer !== undefined) this.clock.clearTimer(this.startTimer);
    for (const r of this.running) {
      for (const s of r.scripts) s.stop();
      for (const f of r.files) f.stop();
    }
    await Promise.all(this.running.map((r) => r.router.stop()));
    await Promise.all(this.running.map((r) => r.notifier.idle()));
    await Promise.all(this.running.flatMap((r) => (r.group ? [r.group.notifier.idle()] : [])));
    this.close();
  }

  private close(): void {
    for (const r of this.running) {
      r.detach();
      this.links.release(r.link);
    }
    for (const link of this.links.list()) link.close();
    for (const a of this.announcers.values()) a.close();
    for (const f of this.fifos) f.close();
    this.rtnl.close();
  }

  private build(config: KeepalivedConfig, inst: VrrpInstance, addresses: readonly InterfaceAddress[], runner: ScriptRunner, options: VrrpRuntimeOptions, syncGroup: boolean): Running {
    const ifindex = interfaceIndex(inst.interface);
    const vipEntries = [...inst.virtualIpAddresses, ...inst.virtualIpAddressesExcluded].map((e) => virtualAddress(e, inst.interface, interfaceIndex));
    const vips = new VirtualAddresses(vipEntries, this.rtnl);
    const primaryAddress = primaryAddressOf(inst, ifindex, addresses, new Set(vipEntries.map((v) => v.address)));
    const unicast = inst.unicastPeers.length > 0;
    const group = inst.mcastDstIp?.address ?? (inst.family === 'inet' ? config.globalDefs.vrrp.mcastGroup4 : config.globalDefs.vrrp.mcastGroup6);
    if (inst.authentication?.type === 'AH') throw new VrrpRuntimeError(`vrrp_instance ${inst.name}: auth_type AH is not supported`);

    const settings: VirtualRouterSettings = {
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
        syncGroup,
      },
      advertised: inst.virtualIpAddresses.map((v) => v.address),
      authType: inst.version === 2 && inst.authentication ? AUTH_PASS : AUTH_NONE,
      authData: inst.version === 3 ? new Uint8Array(0) : passwordBytes(inst.authentication?.password ?? ''),
      destinations: unicast ? inst.unicastPeers.map((p) => p.address) : [group],
      unicastPeers: inst.unicastPeers.map((p) => {
        const peer: UnicastPeer = { address: p.address };
        if (p.minTtl !== 0) peer.minTtl = p.minTtl;
        if (p.maxTtl !== 255) peer.maxTtl = p.maxTtl;
        return peer;
      }),
      checkUnicastSource: config.globalDefs.vrrp.checkUnicastSrc,
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

    const byAddress = new Map(vipEntries.map((v) => [v.address, this.announcer(v.device)] as const));
    const notifier = new InstanceNotifier(inst.name, inst.notify, runner, (outcome) => options.onNotify?.(inst.name, outcome));
    const link = this.links.acquire(inst.interface, inst.family);
    const deps = {
      clock: this.clock,
      sender: link,
      vips,
      announcer: new DeviceAnnouncer(byAddress),
      notify: (state: 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP', priority: number) => {
        for (const fifo of this.fifos) fifo.write(fifoLine(inst.name, state, priority));
        notifier.transition(state, priority);
        options.onTransition?.('INSTANCE', inst.name, state, priority);
      },
      ...(options.log ? { log: options.log } : {}),
    };
    const router = new VirtualRouter(settings, deps);
    if (!unicast) link.join(group);
    const detach = link.attach(inst.virtualRouterId, (packet) => router.receive(packet));

    const running: Running = { name: inst.name, router, link, detach, notifier, readings: [], interfaces: new Map(), scripts: [], files: [] };
    const tracked: TrackedInterface[] = [...inst.trackInterfaces];
    // keepalived tracks the instance's own interface (weight 0: down = FAULT) unless dont_track_primary.
    if (!inst.dontTrackPrimary && !tracked.some((t) => t.name === inst.interface)) tracked.push({ name: inst.interface, weight: 0, reverse: false });
    this.track(config, `vrrp_instance ${inst.name}`, [running], { interfaces: tracked, scripts: inst.trackScripts, files: inst.trackFiles }, runner);
    return running;
  }

  private group(config: KeepalivedConfig, g: VrrpSyncGroup, runner: ScriptRunner, options: VrrpRuntimeOptions): void {
    const members = g.instances.map((name) => {
      const member = this.running.find((r) => r.name === name);
      if (!member) throw new VrrpRuntimeError(`vrrp_sync_group ${g.name}: no vrrp_instance "${name}"`);
      return member;
    });
    const notifier = new InstanceNotifier(g.name, g.notify, runner, (outcome) => options.onNotify?.(g.name, outcome), undefined, 'GROUP');
    // keepalived reports a group's priority as 0.
    const sync = new SyncGroup(g.name, members.map((m) => m.router), (to) => {
      const state = ({ master: 'MASTER', backup: 'BACKUP', fault: 'FAULT', stopped: 'STOP' } as const)[to === 'init' ? 'stopped' : to];
      for (const fifo of this.fifos) fifo.write(fifoLine(g.name, state, 0, 'GROUP'));
      notifier.transition(state, 0);
      options.onTransition?.('GROUP', g.name, state, 0);
    });
    const group: RunningGroup = { sync, members, notifier };
    for (const m of members) m.group = group;
    // The group's own track_* apply to every member; one tracker each, not one per member.
    this.track(config, `vrrp_sync_group ${g.name}`, members, { interfaces: g.trackInterfaces, scripts: g.trackScripts, files: g.trackFiles }, runner);
  }

  // Readings shared by `owners`: one tracker per item, whose changes re-evaluate them all.
  private track(
    config: KeepalivedConfig,
    where: string,
    owners: Running[],
    items: { interfaces: readonly TrackedInterface[]; scripts: readonly TrackedScript[]; files: readonly TrackedFile[] },
    runner: ScriptRunner,
  ): void {
    const first = owners[0]!;
    const add = (reading: TrackerReading) => {
      for (const o of owners) o.readings.push(reading);
    };
    for (const t of items.interfaces) {
      const reading: UpDownReading = { kind: 'interface', name: t.name, ok: true, weight: t.weight, reverse: t.reverse };
      add(reading);
      for (const o of owners) o.interfaces.set(t.name, reading);
    }
    for (const t of items.scripts) {
      const script = config.vrrpScripts.find((s) => s.name === t.name);
      if (!script) throw new VrrpRuntimeError(`${where}: no vrrp_script "${t.name}"`);
      const reading: UpDownReading = { kind: 'script', name: t.name, ok: !script.initFail, weight: t.weight ?? script.weight, reverse: t.weight === undefined ? script.weightReverse : t.reverse };
      add(reading);
      first.scripts.push(
        new ScriptTracker(script, runner, this.clock, (ok) => {
          reading.ok = ok;
          for (const o of owners) this.retrack(o);
        }),
      );
    }
    for (const t of items.files) {
      const file = config.trackFiles.find((f) => f.name === t.name);
      if (!file) throw new VrrpRuntimeError(`${where}: no track_file "${t.name}"`);
      const reading: FileReading = { kind: 'file', name: t.name, value: 0, weight: t.weight ?? file.weight, reverse: t.weight === undefined ? file.reverse : t.reverse };
      const tracker = new FileTracker(file.file, (value) => {
        reading.value = value;
        for (const o of owners) this.retrack(o);
      });
      reading.value = tracker.value;
      add(reading);
      first.files.push(tracker);
    }
  }

  private announcer(device: string): InterfaceAnnouncer {
    let a = this.announcers.get(device);
    if (!a) {
      a = new InterfaceAnnouncer(device);
      this.announcers.set(device, a);
    }
    return a;
  }

  private async resyncLinks(): Promise<void> {
    try {
      for (const link of await this.rtnl.links()) this.linkChanged({ action: 'add', link });
    } catch {
      // closed while stopping
    }
  }

  private linkChanged(event: LinkEvent): void {
    const ok = event.action === 'add' && event.link.up && event.link.running;
    for (const r of this.running) {
      const reading = r.interfaces.get(event.link.name);
      if (!reading || reading.ok === ok) continue;
      reading.ok = ok;
      this.retrack(r);
    }
  }

  // A sync group is in FAULT while any member's trackers say so. (The config layer already zeroed
  // member weights unless sync_group_tracking_weight is set.)
  private retrack(r: Running): void {
    const members = r.group?.members ?? [r];
    const results = members.map((m) => trackedPriority(m.router.settings.machine.priority, m.readings));
    const faults = [...new Set(results.flatMap((t, i) => t.faults.map((f) => (members.length > 1 ? `${members[i]!.name}: ${f}` : f))))];
    members.forEach((m, i) => m.router.track(results[i]!.priority, faults.length > 0, faults));
  }
}

// The advert source: mcast_src_ip / unicast_src_ip, else the interface's first primary IPv4
// address, or its link-local IPv6 address; never one of our own VIPs.
function primaryAddressOf(inst: VrrpInstance, ifindex: number, addresses: readonly InterfaceAddress[], vips: ReadonlySet<string>): string {
  const configured = inst.unicastSrcIp ?? inst.mcastSrcIp;
  if (configured) return configured.address;
  const candidates = addresses.filter((a) => a.ifindex === ifindex && a.family === inst.family && !vips.has(a.local ?? a.address));
  const pick =
    inst.family === 'inet'
      ? (candidates.find((a) => (a.flags & IFA_F_SECONDARY) === 0) ?? candidates[0])
      : candidates.find((a) => parseAddress(a.address).bytes.readUInt16BE(0) >> 6 === 0xfe80 >> 6);
  if (!pick) throw new VrrpRuntimeError(`vrrp_instance ${inst.name}: ${inst.interface} has no ${inst.family === 'inet' ? 'IPv4' : 'link-local IPv6'} address to send adverts from`);
  return pick.local ?? pick.address;
}
