// Runs against the host kernel, read-only: it has generic netlink and rtnetlink but no IPVS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETLINK_GENERIC } from '../../src/netlink/constants.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import { getFamilyRequest, resolveFamily, resolveFamilySync } from '../../src/netlink/genl.js';
import { RouteNetlink } from '../../src/netlink/rtnetlink.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';

describe('generic netlink on the host kernel', () => {
  let socket: NetlinkSocket;
  beforeAll(() => {
    socket = NetlinkSocket.open(NETLINK_GENERIC);
  });
  afterAll(() => socket.close());

  it('resolves nlctrl, with its multicast group', async () => {
    const family = await resolveFamily(socket, 'nlctrl');
    expect(family.id).toBe(0x10);
    expect(family.version).toBeGreaterThanOrEqual(1);
    expect(family.multicastGroups.get('notify')).toBeGreaterThan(0);
    expect(resolveFamilySync(socket, 'nlctrl')).toEqual(family);
  });

  it('has no IPVS family: NetlinkError ENOENT, async and sync', async () => {
    const err = await resolveFamily(socket, 'IPVS').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'ENOENT', errno: 2 });
    expect(() => resolveFamilySync(socket, 'IPVS')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  for (const ack of ['each', 'last'] as const) {
    it(`completes a batch of 2000 GETFAMILY requests with ack '${ack}', errors mapped to their index`, async () => {
      const requests = Array.from({ length: 2000 }, (_, i) => getFamilyRequest(i % 700 === 699 ? `nosuch${i}` : 'nlctrl'));
      const result = await socket.batch(requests, { ack });
      expect(result.errors.map((e) => [e.index, e.error.code])).toEqual([
        [699, 'ENOENT'],
        [1399, 'ENOENT'],
      ]);
      // The socket is still in step: a plain request after the batch gets its own answer.
      expect((await resolveFamily(socket, 'nlctrl')).id).toBe(0x10);
    });
  }

  it('survives a receive-buffer overrun: ENOBUFS rejects what was pending, the next request works', async () => {
    const small = NetlinkSocket.open(NETLINK_GENERIC, { receiveBufferSize: 4096 });
    const errors: Error[] = [];
    small.on('error', (e: Error) => errors.push(e));
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 300 }, () => resolveFamily(small, 'nlctrl')));
      const rejected = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason);
      expect(rejected.length).toBeGreaterThan(0);
      expect(rejected.every((e) => e instanceof NetlinkError && e.code === 'ENOBUFS')).toBe(true);
      expect(errors.map((e) => (e as NetlinkError).code)).toContain('ENOBUFS');
      expect((await resolveFamily(small, 'nlctrl')).id).toBe(0x10);
    } finally {
      small.close();
    }
  });
});

describe('rtnetlink on the host kernel', () => {
  let rtnl: RouteNetlink;
  beforeAll(() => {
    rtnl = RouteNetlink.open();
  });
  afterAll(() => rtnl.close());

  it('finds lo in the link dump and by name', async () => {
    const lo = (await rtnl.links()).find((l) => l.name === 'lo');
    expect(lo).toMatchObject({ index: 1, up: true, type: 772 });
    expect(await rtnl.link('lo')).toMatchObject({ index: 1, name: 'lo' });
    expect(await rtnl.link(1)).toMatchObject({ name: 'lo' });
    expect(await rtnl.link('ipvsd-none0')).toBeUndefined();
  });

  it('lists 127.0.0.1/8 on lo', async () => {
    const addresses = await rtnl.addresses({ ifindex: 1, family: 'inet' });
    expect(addresses).toContainEqual(
      expect.objectContaining({ family: 'inet', ifindex: 1, address: '127.0.0.1', prefixLength: 8, label: 'lo' }),
    );
    expect(addresses.every((a) => a.family === 'inet' && a.ifindex === 1)).toBe(true);
  });
});
