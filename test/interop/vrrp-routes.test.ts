// virtual_routes and virtual_rules in two host network namespaces: keepalived 2.2.7 and ipvsd run
// the same configuration in turn, and what `ip route` / `ip rule` show while each is master must
// be the same; ipvsd removes them when a higher-priority peer takes over and when it is stopped.
// Needs root, iproute2 and keepalived; run with `npm run test:interop`.
import { describe, expect, it } from 'vitest';
import { usePair, type Side, type Speaker } from './vrrp-pair.js';

const lab = usePair('virtual_routes figures');

function conf(routerId: string, state: 'MASTER' | 'BACKUP', priority: number): string {
  return `global_defs {
    router_id ${routerId}
}
vrrp_instance VI_1 {
    state ${state}
    interface eth0
    virtual_router_id 51
    priority ${priority}
    advert_int 0.1
    version 3
    virtual_ipaddress {
        10.98.0.100/24
    }
    virtual_routes {
        198.51.100.0/24 via 10.98.0.254 dev eth0 table 100
        blackhole 192.0.2.0/24 table 100
        default via 10.98.0.254 table 101 metric 7
        2001:db8:77::/64 dev eth0 table 100
        local 192.0.2.9 dev eth0 table 100 scope host
        198.51.101.0/24 dev eth0 table 100 scope link
        198.51.102.0/24 table 100 nexthop via 10.98.0.252 dev eth0 weight 1 nexthop via 10.98.0.253 dev eth0 weight 2 onlink
        198.51.103.0/24 via 10.98.0.252 or 10.98.0.253 table 100
    }
    virtual_rules {
        from 10.1.0.0/16 table 100 preference 100
        to 10.2.0.0/16 fwmark 5/0xff table 101 preference 101
        from 10.3.0.0/16 blackhole preference 102
        from 2001:db8:9::/48 table 100 preference 103
        iif eth0 not to 10.4.0.0/16 table 1000 preference 104
    }
}
`;
}

// Only routes marked as keepalived's: the kernel adds and removes its own (VIP, link-local) meanwhile.
const views = [
  ['ip', 'route', 'show', 'table', 'all', 'proto', 'keepalived'],
  ['ip', '-6', 'route', 'show', 'table', 'all', 'proto', 'keepalived'],
  ['ip', 'rule', 'show'],
  ['ip', '-6', 'rule', 'show'],
];

/** What ip shows of the tables and rules the configuration touches. */
const tables = (side: Side): string => views.map((argv) => `$ ${argv.join(' ')}\n${lab.pair.exec(side, argv)}`).join('');

/** Polls until `side` shows `want`; then compares once more, so a timeout shows the difference. */
async function settle(side: Side, want: string, speaker: Speaker, timeoutMs = 5000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (tables(side) !== want && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
  expect(tables(side), speaker.output()).toBe(want);
}

async function stop(s: Speaker): Promise<void> {
  lab.pair.terminate(s);
  await s.exited;
  expect(s.child.exitCode, s.output()).toBe(0);
}

describe('virtual_routes and virtual_rules against keepalived', () => {
  it('ipvsd installs what keepalived installs as master, and removes it on BACKUP and on stop', async () => {
    const empty = { a: tables('a'), b: tables('b') };

    const keepalived = lab.pair.startKeepalived('a', conf('keepalived_a', 'MASTER', 150));
    await lab.pair.waitFor((o) => o.length === 1 && o[0] === 'a', 8000);
    // Settled: two reads 200 ms apart agree and differ from the empty tables.
    let expected = tables('a');
    for (let previous = ''; expected === empty.a || expected !== previous; ) {
      await new Promise((r) => setTimeout(r, 200));
      previous = expected;
      expected = tables('a');
    }
    for (const line of ['198.51.100.0/24 via 10.98.0.254 dev eth0 table 100', 'nexthop via 10.98.0.253 dev eth0 weight 2 onlink', '198.51.103.0/24 table 100', '104:\tnot from all to 10.4.0.0/16 iif eth0 lookup 1000 proto keepalived']) {
      expect(expected).toContain(line);
    }
    await stop(keepalived);
    expect(tables('a'), 'keepalived removes its routes and rules on stop').toBe(empty.a);

    const a = lab.pair.startIpvsd('a', conf('ipvsd_a', 'MASTER', 150));
    await lab.pair.waitFor((o) => o.length === 1 && o[0] === 'a', 8000);
    await settle('a', expected, a);

    const b = lab.pair.startIpvsd('b', conf('ipvsd_b', 'BACKUP', 200));
    await lab.pair.waitFor((o) => o.length === 1 && o[0] === 'b', 8000);
    await settle('b', expected, b);
    await settle('a', empty.a, a);

    await stop(b);
    expect(tables('b'), b.output()).toBe(empty.b);
    await settle('a', expected, a);
    await stop(a);
    expect(tables('a'), a.output()).toBe(empty.a);
  }, 60_000);
});
