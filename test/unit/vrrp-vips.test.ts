import { describe, expect, it } from 'vitest';
import type { IpAddressEntry } from '../../src/config/model.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import type { AddressSpec } from '../../src/netlink/rtnetlink.js';
import { virtualAddress, VirtualAddresses, VirtualAddressError, type AddressTable } from '../../src/vrrp/vips.js';

const EEXIST = 17;
const EADDRNOTAVAIL = 99;
const EPERM = 1;

function entry(address: string, prefixLength: number, over: Partial<IpAddressEntry> = {}): IpAddressEntry {
  return {
    address,
    family: address.includes(':') ? 'inet6' : 'inet',
    prefixLength,
    device: undefined,
    broadcast: undefined,
    scope: undefined,
    label: undefined,
    peer: undefined,
    options: [],
    pos: { file: 'k.conf', line: 1, column: 1 },
    ...over,
  };
}

const indexes: Record<string, number> = { eth0: 2, eth1: 3 };
const ifindexOf = (name: string) => indexes[name] ?? 0;

/** An in-memory interface address table with the kernel's EEXIST / EADDRNOTAVAIL answers. */
class FakeTable implements AddressTable {
  readonly present = new Set<string>();
  readonly calls: string[] = [];
  deny = false;
  async addAddress(spec: AddressSpec): Promise<void> {
    const key = `${spec.ifindex} ${spec.address}/${spec.prefixLength}`;
    this.calls.push(`add ${key}`);
    if (this.deny) throw new NetlinkError(EPERM);
    if (this.present.has(key)) throw new NetlinkError(EEXIST);
    this.present.add(key);
  }
  async removeAddress(spec: { ifindex: number; address: string; prefixLength: number }): Promise<void> {
    const key = `${spec.ifindex} ${spec.address}/${spec.prefixLength}`;
    this.calls.push(`remove ${key}`);
    if (!this.present.delete(key)) throw new NetlinkError(EADDRNOTAVAIL);
  }
}

describe('virtualAddress', () => {
  it('resolves dev, label, scope, brd and the ip-addr flags', () => {
    expect(virtualAddress(entry('10.0.0.5', 24, { device: 'eth1', label: 'eth1:vip', scope: 'link', broadcast: '+', options: ['noprefixroute'] }), 'eth0', ifindexOf)).toEqual({
      device: 'eth1',
      ifindex: 3,
      address: '10.0.0.5',
      prefixLength: 24,
      label: 'eth1:vip',
      scope: 253,
      broadcast: '10.0.0.255',
      flags: 0x200,
      track: true,
    });
    expect(virtualAddress(entry('10.0.0.5', 20, { broadcast: '-' }), 'eth0', ifindexOf).broadcast).toBe('10.0.0.0');
    expect(virtualAddress(entry('2001:db8::5', 64, { options: ['-nodad', 'no_track'] }), 'eth0', ifindexOf)).toMatchObject({ ifindex: 2, flags: 0x02, track: false });
    expect(() => virtualAddress(entry('10.0.0.5', 32, { scope: 'galaxy' }), 'eth0', ifindexOf)).toThrow(VirtualAddressError);
  });
});

describe('VirtualAddresses', () => {
  const vips = () => [virtualAddress(entry('10.0.0.100', 24), 'eth0', ifindexOf), virtualAddress(entry('10.0.0.101', 32, { options: ['no_track'] }), 'eth0', ifindexOf)];

  it('adds and removes idempotently: EEXIST and EADDRNOTAVAIL are success', async () => {
    const table = new FakeTable();
    table.present.add('2 10.0.0.100/24'); // left by a crashed run
    const v = new VirtualAddresses(vips(), table);
    expect(await v.add()).toEqual([]);
    expect([...table.present].sort()).toEqual(['2 10.0.0.100/24', '2 10.0.0.101/32']);
    expect(v.holding).toBe(true);
    expect(await v.remove()).toEqual([]);
    expect(await v.remove()).toEqual([]);
    expect(table.present.size).toBe(0);
  });

  it('reports other failures and keeps going', async () => {
    const table = new FakeTable();
    table.deny = true;
    const v = new VirtualAddresses(vips(), table);
    const failed = await v.add();
    expect(failed.map((f) => [f.address, f.operation])).toEqual([['10.0.0.100/24', 'add'], ['10.0.0.101/32', 'add']]);
    expect(failed[0]!.message).toMatch(/EPERM/);
    expect(table.calls).toHaveLength(2);
  });

  it('notices a tracked VIP removed while held, and restores it', async () => {
    const table = new FakeTable();
    const v = new VirtualAddresses(vips(), table);
    const removed = (address: string, prefixLength: number, ifindex = 2) =>
      ({ action: 'remove', address: { family: 'inet', ifindex, address, local: address, prefixLength, scope: 0, flags: 0 } }) as const;
    expect(v.lostBy(removed('10.0.0.100', 24))).toBeUndefined(); // not held yet
    await v.add();
    expect(v.lostBy(removed('10.0.0.100', 24))?.address).toBe('10.0.0.100');
    expect(v.lostBy(removed('10.0.0.100', 24, 3))).toBeUndefined(); // another interface
    expect(v.lostBy(removed('10.0.0.101', 32))).toBeUndefined(); // no_track
    table.present.delete('2 10.0.0.100/24');
    expect(await v.restore(v.entries[0]!)).toBeUndefined();
    expect(table.present.has('2 10.0.0.100/24')).toBe(true);
    expect(v.restored).toBe(1);
    await v.remove();
    expect(v.lostBy(removed('10.0.0.100', 24))).toBeUndefined();
  });
});
