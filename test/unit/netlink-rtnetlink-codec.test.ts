import { describe, expect, it } from 'vitest';
import { parseAttributes, readString, readU32 } from '../../src/netlink/attributes.js';
import { IFA_F_NODAD, IFA_FLAGS, IFA_LABEL, IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST, IFLA_EXT_MASK, IFLA_IFNAME, NLMSG_ERROR, RTM_NEWADDR, RTM_NEWLINK } from '../../src/netlink/constants.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import { decodeError, decodeMessages } from '../../src/netlink/message.js';
import {
  decodeAddress,
  decodeLink,
  deleteAddressPayload,
  getAddressesPayload,
  getLinkPayload,
  newAddressPayload,
} from '../../src/netlink/rtnetlink-codec.js';

const bytes = (hex: string): Buffer => Buffer.from(hex, 'hex');
const cat = (parts: Buffer[]): Buffer => Buffer.concat(parts);

describe('recorded kernel messages', () => {
  it('extended ACK: ENODEV with the kernel text', () => {
    const [msg] = decodeMessages(bytes(NEWADDR_ENODEV));
    expect(msg!.type).toBe(NLMSG_ERROR);
    expect(msg!.seq).toBe(7);
    expect(decodeError(msg!)).toEqual({ errno: 19, kernelMessage: 'ipv4: Device not found' });
    const err = new NetlinkError(19, 'ipv4: Device not found');
    expect(err.code).toBe('ENODEV');
    expect(err.message).toBe('No such device (ENODEV): ipv4: Device not found');
  });

  it('RTM_NEWLINK for lo', () => {
    const [msg] = decodeMessages(bytes(LINK_LO));
    expect(msg!.type).toBe(RTM_NEWLINK);
    expect(decodeLink(msg!.payload)).toEqual({
      index: 1,
      name: 'lo',
      up: true,
      running: true,
      mtu: 65536,
      address: Buffer.alloc(6),
      type: 772, // ARPHRD_LOOPBACK
    });
  });

  it('RTM_NEWADDR for 127.0.0.1/8 and ::1/128', () => {
    const msgs = decodeMessages(bytes(ADDRESSES_LO));
    expect(msgs.map((m) => m.type)).toEqual([RTM_NEWADDR, RTM_NEWADDR]);
    expect(msgs.map((m) => decodeAddress(m.payload))).toEqual([
      { family: 'inet', ifindex: 1, address: '127.0.0.1', local: '127.0.0.1', prefixLength: 8, label: 'lo', scope: 254, flags: 0x80 },
      { family: 'inet6', ifindex: 1, address: '::1', prefixLength: 128, scope: 254, flags: 0x80 },
    ]);
  });
});

// struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; } = 16 bytes
// struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; } = 8 bytes
describe('request payloads', () => {
  it('RTM_GETLINK by index and by name, with IFLA_EXT_MASK = RTEXT_FILTER_VF', () => {
    const byIndex = cat(getLinkPayload(3));
    expect(byIndex.subarray(0, 16).toString('hex')).toBe('00000000' + '03000000' + '00000000' + '00000000');
    expect(readU32(parseAttributes(byIndex, 16).get(IFLA_EXT_MASK)!)).toBe(1);
    const byName = cat(getLinkPayload('eth0'));
    expect(byName.readInt32LE(4)).toBe(0);
    expect(readString(parseAttributes(byName, 16).get(IFLA_IFNAME)!)).toBe('eth0');
  });

  it('RTM_GETADDR filters by family in the header', () => {
    expect(getAddressesPayload().toString('hex')).toBe('0000000000000000');
    expect(getAddressesPayload('inet6').toString('hex')).toBe('0a00000000000000');
  });

  it('RTM_NEWADDR for IPv4 with label and broadcast', () => {
    const p = cat(newAddressPayload({ ifindex: 5, address: '192.0.2.10', prefixLength: 24, label: 'eth0:vip', broadcast: '192.0.2.255' }));
    expect(p.subarray(0, 8).toString('hex')).toBe('02' + '18' + '00' + '00' + '05000000');
    const a = parseAttributes(p, 8);
    expect(a.get(IFA_LOCAL)!.toString('hex')).toBe('c000020a');
    expect(a.get(IFA_ADDRESS)!.toString('hex')).toBe('c000020a');
    expect(readString(a.get(IFA_LABEL)!)).toBe('eth0:vip');
    expect(a.get(IFA_BROADCAST)!.toString('hex')).toBe('c00002ff');
  });

  it('RTM_NEWADDR for IPv6 with scope and IFA_F_NODAD', () => {
    const p = cat(newAddressPayload({ ifindex: 2, address: '2001:db8::10', prefixLength: 64, scope: 0, flags: IFA_F_NODAD }));
    expect(p.subarray(0, 8).toString('hex')).toBe('0a' + '40' + '00' + '00' + '02000000');
    const a = parseAttributes(p, 8);
    expect(a.get(IFA_ADDRESS)!.toString('hex')).toBe('20010db8000000000000000000000010');
    expect(readU32(a.get(IFA_FLAGS)!)).toBe(IFA_F_NODAD);
  });

  it('RTM_DELADDR names the address and prefix', () => {
    const p = cat(deleteAddressPayload({ ifindex: 9, address: '198.51.100.1', prefixLength: 32 }));
    expect(p.subarray(0, 8).toString('hex')).toBe('02200000' + '09000000');
    expect(parseAttributes(p, 8).get(IFA_LOCAL)!.toString('hex')).toBe('c6336401');
  });

  it('refuses what the kernel would refuse, before sending', () => {
    expect(() => newAddressPayload({ ifindex: 1, address: '2001:db8::1', prefixLength: 64, label: 'x' })).toThrow(NetlinkError);
    expect(() => newAddressPayload({ ifindex: 1, address: '10.0.0.1', prefixLength: 33 })).toThrow(/prefix length 33/);
    expect(() => deleteAddressPayload({ ifindex: 1, address: '::1', prefixLength: 129 })).toThrow(NetlinkError);
  });
});

describe('decoding edge cases', () => {
  it('addresses of other families are skipped', () => {
    expect(decodeAddress(bytes('1100000001000000'))).toBeUndefined(); // AF_PACKET
  });

  it('short headers throw', () => {
    expect(() => decodeLink(Buffer.alloc(8))).toThrow(/16 bytes/);
    expect(() => decodeAddress(Buffer.alloc(4))).toThrow(/8 bytes/);
  });
});

// Recorded with a raw netlink socket in a fresh network namespace (`unshare --net`, lo up), kernel 6.18.

/** RTM_NEWADDR for ifindex 999999: NLMSG_ERROR ENODEV, capped, extended ACK text. */
const NEWADDR_ENODEV =
  '400000000200000307000000596a0000edffffff280000001400050607000000000000001b000100697076343a204465' +
  '76696365206e6f7420666f756e640000';

/** RTM_GETLINK for index 1: the RTM_NEWLINK reply for lo (one datagram). */
const LINK_LO =
  'bc0500001000000008000000596a000000000403010000004900010000000000070003006c6f000008000d00e8030000' +
  '050010000000000005001100000000000500430001000000080004000000010008003200000000000800330000000000' +
  '08001b000000000008001e000000000008003d000000000008001f000100000008002800ffff00000800290000000100' +
  '08003a000000010008003f0000000100080040000000010008003b00f8ff070008003c00ffff00000800420000000000' +
  '08002000010000000500210001000000080023000000000008002f000000000008003000000000000600440000000000' +
  '060045000000000005002700000000000a00010000000000000000000a0002000000000000000000cc00170000000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '000000006400070000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '00000000000000000c002b0005000200000000000c0006006e6f71756575650030031a008c0002008800010000000000' +
  '000000000000000001000000010000000100000001000000000000000100000000000000000000000000000000000000' +
  '000000000100000001000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '0000000010270000e80300000000000000000000000000000000000001000000a0020a00080001000000008014000500' +
  'ffff00008ea90200b89a0000e8030000f400020000000000400000000000010001000000010000000100000001000000' +
  'ffffffffa00f0000e8030000ffffffff803a090080510100030000005802000010000000000000000100000001000000' +
  '0100000060ea0000000000000000000000000000000000000000000000000000ffffffff000000000000000010270000' +
  'e80300000100000000000000000000000100000000000000000000000100000000000000000000000000000000000000' +
  '80ee360000000000000000000100000000000000000000000000000000000000000000000004000000000000ffff0000' +
  'ffffffff0100000000000000000000000000000034010300260000000000000000000000000000000000000000000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000003c00060007000000' +
  '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
  '000000001400070000000000000000000000000000000000050008000000000024000e00000000000000000000000000' +
  '000000000000000000000000000000000000000004003e8004004180';

/** RTM_GETADDR dump: one datagram with 127.0.0.1/8 and ::1/128 on lo. */
const ADDRESSES_LO =
  '4c0000001400020009000000596a0000020880fe01000000080001007f000001080002007f000001070003006c6f0000' +
  '080008008000000014000600ffffffffffffffff8ea902008ea90200500000001400020009000000596a00000a8080fe' +
  '01000000140001000000000000000000000000000000000114000600ffffffffffffffff8ea902008ea9020008000800' +
  '8000000005000b0001000000';
