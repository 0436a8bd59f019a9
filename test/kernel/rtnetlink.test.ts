// Runs inside the UML guest (a throwaway kernel): addresses added and removed on a dummy link
// through RouteNetlink, checked with `ip`, and the events seen for our changes and for others'.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IFA_F_NODAD } from '../../src/netlink/constants.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import { RouteNetlink, type AddressEvent, type LinkEvent } from '../../src/netlink/rtnetlink.js';
import { assertInGuest, run } from '../lab/netns.js';

const LINK = 'ipvsdnl0';
let rtnl: RouteNetlink;
let ifindex: number;
const addressEvents: AddressEvent[] = [];
const linkEvents: LinkEvent[] = [];

function ipAddr(): string {
  return run(['ip', '-o', 'addr', 'show', 'dev', LINK]);
}

/** Resolves once an event matching `match` has been recorded (it may already have been). */
async function eventSeen<T>(events: T[], match: (e: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = events.find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${what} event within 5 s; saw ${JSON.stringify(events)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const addressEvent = (action: 'add' | 'remove', address: string) => (e: AddressEvent) =>
  e.action === action && e.address.address === address && e.address.ifindex === ifindex;

beforeAll(async () => {
  assertInGuest();
  run(['ip', 'link', 'add', LINK, 'type', 'dummy']);
  rtnl = RouteNetlink.open({ events: ['link', 'ipv4-address', 'ipv6-address'] });
  rtnl.on('address', (e: AddressEvent) => addressEvents.push(e));
  rtnl.on('link', (e: LinkEvent) => linkEvents.push(e));
  run(['ip', 'link', 'set', LINK, 'up']);
  const link = await rtnl.link(LINK);
  if (!link) throw new Error(`${LINK} was created but RTM_GETLINK does not find it`);
  ifindex = link.index;
});

afterAll(() => {
  rtnl?.close();
  run(['ip', 'link', 'del', LINK]);
});

describe('RouteNetlink in a real kernel', () => {
  it('finds the dummy link by name, by index and in the dump, and sees it come up', async () => {
    const byIndex = await rtnl.link(ifindex);
    expect(byIndex).toMatchObject({ name: LINK, index: ifindex, up: true, type: 1 });
    expect(byIndex!.address).toHaveLength(6);
    expect((await rtnl.links()).map((l) => l.name)).toContain(LINK);
    expect(await rtnl.link('ipvsdnl-none')).toBeUndefined();
    await eventSeen(linkEvents, (e) => e.link.index === ifindex && e.link.up, 'link up');
  });

  it('adds an IPv4 address with a label, which ip, addresses() and the event all show', async () => {
    await rtnl.addAddress({ ifindex, address: '192.0.2.10', prefixLength: 24, label: `${LINK}:vip` });
    expect(ipAddr()).toMatch(new RegExp(`inet 192\\.0\\.2\\.10/24 .*scope global ${LINK}:vip`));
    const listed = await rtnl.addresses({ ifindex, family: 'inet' });
    expect(listed).toEqual([
      expect.objectContaining({ family: 'inet', address: '192.0.2.10', local: '192.0.2.10', prefixLength: 24, label: `${LINK}:vip` }),
    ]);
    const event = await eventSeen(addressEvents, addressEvent('add', '192.0.2.10'), 'IPv4 add');
    expect(event.address.label).toBe(`${LINK}:vip`);
  });

  it('refuses the same address twice with EEXIST', async () => {
    const err = await rtnl.addAddress({ ifindex, address: '192.0.2.10', prefixLength: 24 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'EEXIST', errno: 17 });
  });

  it('adds an IPv6 address without DAD', async () => {
    await rtnl.addAddress({ ifindex, address: '2001:db8::10', prefixLength: 64, flags: IFA_F_NODAD });
    expect(ipAddr()).toMatch(/inet6 2001:db8::10\/64 scope global nodad/);
    const listed = await rtnl.addresses({ ifindex, family: 'inet6' });
    expect(listed.map((a) => `${a.address}/${a.prefixLength}`)).toContain('2001:db8::10/64');
    await eventSeen(addressEvents, addressEvent('add', '2001:db8::10'), 'IPv6 add');
  });

  it('removes both, and a second removal is EADDRNOTAVAIL', async () => {
    await rtnl.removeAddress({ ifindex, address: '192.0.2.10', prefixLength: 24 });
    await rtnl.removeAddress({ ifindex, address: '2001:db8::10', prefixLength: 64 });
    expect(ipAddr()).not.toMatch(/192\.0\.2\.10|2001:db8::10/);
    await eventSeen(addressEvents, addressEvent('remove', '192.0.2.10'), 'IPv4 remove');
    await eventSeen(addressEvents, addressEvent('remove', '2001:db8::10'), 'IPv6 remove');
    await expect(rtnl.removeAddress({ ifindex, address: '192.0.2.10', prefixLength: 24 })).rejects.toMatchObject({
      code: 'EADDRNOTAVAIL',
    });
  });

  it("sees another program's ip addr add and ip addr del", async () => {
    run(['ip', 'addr', 'add', '198.51.100.7/32', 'dev', LINK]);
    await eventSeen(addressEvents, addressEvent('add', '198.51.100.7'), 'external add');
    run(['ip', 'addr', 'del', '198.51.100.7/32', 'dev', LINK]);
    const removed = await eventSeen(addressEvents, addressEvent('remove', '198.51.100.7'), 'external remove');
    expect(removed.address.prefixLength).toBe(32);
  });

  it('reports the link going down', async () => {
    run(['ip', 'link', 'set', LINK, 'down']);
    await eventSeen(linkEvents, (e) => e.link.index === ifindex && !e.link.up, 'link down');
  });
});
