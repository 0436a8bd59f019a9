// RTM_DELROUTE / RTM_DELRULE payloads as the kernel sends them (struct rtmsg / fib_rule_hdr from
// linux/rtnetlink.h and linux/fib_rules.h, then attributes), decoded to what identifies a configured line.
import { describe, expect, it } from 'vitest';
import { decodeRouteRemoval, decodeRuleRemoval } from '../../src/netlink/route-removals.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('decodeRouteRemoval', () => {
  it('reads an IPv4 route: destination, length, table from RTA_TABLE, protocol from the header', () => {
    // rtmsg: family 2, dst_len 24, src_len 0, tos 0, table 100, protocol 18, scope 0, type 1, flags 0
    // RTA_TABLE(15) = 100, RTA_DST(1) = 198.51.100.0, RTA_OIF(4) = 3
    const payload = hex('02 18 00 00 64 12 00 01 00000000  0800 0f00 64000000  0800 0100 c6336400  0800 0400 03000000');
    expect(decodeRouteRemoval(payload)).toEqual({ family: 'inet', destination: '198.51.100.0', prefixLength: 24, table: 100, protocol: 18 });
  });

  it('takes a table above 255 from RTA_TABLE (the header says 252, RT_TABLE_COMPAT)', () => {
    const payload = hex('0a 40 00 00 fc 12 00 01 00000000  0800 0f00 e8030000  1400 0100 20010db8000100000000000000000000');
    expect(decodeRouteRemoval(payload)).toEqual({ family: 'inet6', destination: '2001:db8:1::', prefixLength: 64, table: 1000, protocol: 18 });
  });

  it('reads a default route (no RTA_DST) in the header\'s table', () => {
    expect(decodeRouteRemoval(hex('02 00 00 00 fe 03 00 01 00000000'))).toEqual({ family: 'inet', destination: '0.0.0.0', prefixLength: 0, table: 254, protocol: 3 });
    expect(decodeRouteRemoval(hex('0a 00 00 00 fe 12 00 01 00000000'))).toMatchObject({ family: 'inet6', destination: '::' });
  });

  it('ignores other families and short messages', () => {
    expect(decodeRouteRemoval(hex('07 00 00 00 fe 12 00 01 00000000'))).toBeUndefined();
    expect(decodeRouteRemoval(hex('02 18 00'))).toBeUndefined();
  });
});

describe('decodeRuleRemoval', () => {
  it('reads family, FRA_PRIORITY, FRA_TABLE and FRA_PROTOCOL', () => {
    // fib_rule_hdr: family 2, dst_len 0, src_len 16, tos 0, table 100, res1, res2, action 1 (to table), flags 0
    // FRA_SRC(2) = 10.1.0.0, FRA_PRIORITY(6) = 100, FRA_TABLE(15) = 100, FRA_PROTOCOL(21) = 18
    const payload = hex('02 00 10 00 64 00 00 01 00000000  0800 0200 0a010000  0800 0600 64000000  0800 0f00 64000000  0500 1500 12000000');
    expect(decodeRuleRemoval(payload)).toEqual({ family: 'inet', preference: 100, table: 100, protocol: 18 });
  });

  it('says protocol 0 when the kernel does not send FRA_PROTOCOL', () => {
    expect(decodeRuleRemoval(hex('0a 00 00 00 00 00 00 06 00000000  0800 0600 65000000'))).toEqual({ family: 'inet6', preference: 101, table: 0, protocol: 0 });
  });
});
