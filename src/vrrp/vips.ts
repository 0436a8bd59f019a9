// An instance's virtual addresses (virtual_ipaddress and _excluded) on their interfaces over
// rtnetlink: added on becoming master, removed on leaving it (and at start, so a VIP a crashed run
// left behind is gone before this node can become master), and put back if someone removes one
// while we are master.
import type { IpAddressEntry } from '../config/model.js';
import { parseAddress } from '../netlink/address.js';
import { NetlinkError } from '../netlink/errors.js';
import type { AddressEvent, AddressSpec } from '../netlink/rtnetlink.js';

const IFA_F_NODAD = 0x02;
const IFA_F_HOMEADDRESS = 0x10;
const IFA_F_NOPREFIXROUTE = 0x200;
const IFA_F_MCAUTOJOIN = 0x400;

const flagOf: Record<string, number> = {
  '-nodad': IFA_F_NODAD,
  nodad: IFA_F_NODAD,
  home: IFA_F_HOMEADDRESS,
  noprefixroute: IFA_F_NOPREFIXROUTE,
  autojoin: IFA_F_MCAUTOJOIN,
};

const scopeOf: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };

/** The part of RouteNetlink this module uses; a fake in tests. */
export interface AddressTable {
  addAddress(spec: AddressSpec): Promise<void>;
  removeAddress(spec: { ifindex: number; address: string; prefixLength: number }): Promise<void>;
}

export interface VirtualAddress extends AddressSpec {
  device: string;
  /** no_track: not watched, not put back. */
  track: boolean;
}

export class VirtualAddressError extends Error {
  readonly code = 'EVIPCONFIG';
}

/** One failed add or remove, kept for the status and the log. */
export interface VipFailure {
  address: string;
  device: string;
  operation: 'add' | 'remove';
  message: string;
}

/** An `ip addr`-style entry resolved to what rtnetlink needs; `device` defaults to the instance's interface. */
export function virtualAddress(entry: IpAddressEntry, instanceInterface: string, ifindexOf: (name: string) => number): VirtualAddress {
  const device = entry.device ?? instanceInterface;
  const spec: VirtualAddress = {
    device,
    ifindex: ifindexOf(device),
    address: entry.address,
    prefixLength: entry.prefixLength,
    track: !entry.options.includes('no_track'),
  };
  if (entry.label !== undefined) spec.label = entry.label;
  if (entry.scope !== undefined) spec.scope = scopeNumber(entry.scope);
  if (entry.broadcast !== undefined) spec.broadcast = broadcastAddress(entry.broadcast, entry.address, entry.prefixLength);
  const flags = entry.options.reduce((sum, option) => sum | (flagOf[option] ?? 0), 0);
  if (flags !== 0) spec.flags = flags;
  return spec;
}

function scopeNumber(text: string): number {
  const named = scopeOf[text];
  if (named !== undefined) return named;
  if (/^\d+$/.test(text) && Number(text) <= 255) return Number(text);
  throw new VirtualAddressError(`unknown address scope "${text}" (global, site, link, host, nowhere, or 0..255)`);
}

// `brd +` / `brd -` as `ip addr` reads them: all host bits set, or cleared.
function broadcastAddress(text: string, address: string, prefixLength: number): string {
  if (text !== '+' && text !== '-') return text;
  const bytes = parseAddress(address).bytes;
  const value = bytes.readUInt32BE(0);
  const mask = prefixLength === 0 ? 0 : (~0 << (32 - prefixLength)) >>> 0;
  const out = Buffer.alloc(4);
  out.writeUInt32BE(text === '+' ? (value | ~mask) >>> 0 : (value & mask) >>> 0);
  return out.join('.');
}

export class VirtualAddresses {
  private held = false;
  readonly failures: VipFailure[] = [];
  /** How many times a VIP removed behind our back was put back. */
  restored = 0;

  constructor(
    readonly entries: readonly VirtualAddress[],
    private readonly table: AddressTable,
  ) {}

  /** Whether the VIPs should be on the interfaces now (between add() and remove()). */
  get holding(): boolean {
    return this.held;
  }

  addresses(): string[] {
    return this.entries.map((e) => e.address);
  }

  /** Adds every VIP; one already present counts as added. Returns the failures (also kept in `failures`). */
  async add(): Promise<VipFailure[]> {
    this.held = true;
    const failed: VipFailure[] = [];
    for (const entry of this.entries) {
      const failure = await this.addOne(entry);
      if (failure) failed.push(failure);
    }
    return failed;
  }

  /** Removes every VIP; one already absent counts as removed. */
  async remove(): Promise<VipFailure[]> {
    this.held = false;
    const failed: VipFailure[] = [];
    for (const entry of this.entries) {
      try {
        await this.table.removeAddress({ ifindex: entry.ifindex, address: entry.address, prefixLength: entry.prefixLength });
      } catch (err) {
        if (err instanceof NetlinkError && err.code === 'EADDRNOTAVAIL') continue;
        failed.push(this.fail(entry, 'remove', err));
      }
    }
    return failed;
  }

  /** The VIP an address event took away while we hold it, if any: the caller puts it back with restore(). */
  lostBy(event: AddressEvent): VirtualAddress | undefined {
    if (!this.held || event.action !== 'remove') return undefined;
    const removed = event.address.local ?? event.address.address;
    return this.entries.find(
      (e) => e.track && e.ifindex === event.address.ifindex && e.prefixLength === event.address.prefixLength && sameAddress(e.address, removed),
    );
  }

  async restore(entry: VirtualAddress): Promise<VipFailure | undefined> {
    if (!this.held) return undefined;
    const failure = await this.addOne(entry);
    if (!failure) this.restored++;
    return failure;
  }

  private async addOne(entry: VirtualAddress): Promise<VipFailure | undefined> {
    const { device: _device, track: _track, ...spec } = entry;
    try {
      await this.table.addAddress(spec);
      return undefined;
    } catch (err) {
      if (err instanceof NetlinkError && err.code === 'EEXIST') return undefined;
      return this.fail(entry, 'add', err);
    }
  }

  private fail(entry: VirtualAddress, operation: 'add' | 'remove', err: unknown): VipFailure {
    const failure = { address: `${entry.address}/${entry.prefixLength}`, device: entry.device, operation, message: (err as Error).message };
    this.failures.push(failure);
    if (this.failures.length > 20) this.failures.shift(); // the recent ones are what an operator needs
    return failure;
  }
}

function sameAddress(a: string, b: string): boolean {
  try {
    return parseAddress(a).bytes.equals(parseAddress(b).bytes);
  } catch {
    return false;
  }
}
