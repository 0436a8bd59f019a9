// static_ipaddress, static_routes and static_rules at the top level: read with the same line
// parsers as virtual_routes / virtual_rules, with keepalived's defaults and FILE:LINE:COL errors.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText } from '../../src/config/load.js';

function load(text: string) {
  const { config, diagnostics } = loadConfigText(text, 's.conf', { configId: 'lb1' });
  return { config, messages: diagnostics.map(formatDiagnostic) };
}

describe('static_routes and static_rules', () => {
  it('reads routes and rules into the model with keepalived\'s defaults', () => {
    const { config, messages } = load(`static_routes {
  198.51.100.0/24 via 10.0.0.254 dev eth1 table 100 metric 5
  blackhole 192.0.2.0/24
  2001:db8:1::/64 dev eth1 no_track
}
static_rules {
  from 10.1.0.0/16 table 100 preference 100
  to 2001:db8:9::/48 blackhole preference 101
}
`);
    expect(messages).toEqual([]);
    expect(config!.staticRoutes).toMatchObject([
      { address: '198.51.100.0', prefixLength: 24, gateway: '10.0.0.254', device: 'eth1', table: 100, metric: 5, protocol: 18, scope: 0, mode: 'prepend', pos: { line: 2, column: 3 } },
      { type: 'blackhole', address: '192.0.2.0', table: 254 },
      { family: 'inet6', address: '2001:db8:1::', words: ['2001:db8:1::/64', 'dev', 'eth1', 'no_track'] },
    ]);
    expect(config!.staticRules).toMatchObject([
      { family: 'inet', from: { address: '10.1.0.0', prefixLength: 16 }, action: 'table', table: 100, preference: 100, protocol: 18 },
      { family: 'inet6', to: { address: '2001:db8:9::', prefixLength: 48 }, action: 'blackhole', preference: 101 },
    ]);
  });

  it('is empty when the file has none', () => {
    const { config } = load('global_defs {\n  router_id lb1\n}\n');
    expect(config).toMatchObject({ staticIpAddresses: [], staticRoutes: [], staticRules: [] });
  });

  it('numbers rules without a preference from 16384 down per family, across static and virtual rules, with a warning', () => {
    const { config, messages } = load(`static_rules {
  from 10.1.0.0/16 table 100
  from 2001:db8::/32 table 100
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  virtual_ipaddress {
    10.0.0.100/24
  }
  virtual_rules {
    from 10.2.0.0/16 table 101
  }
}
`);
    expect(config!.staticRules.map((r) => r.preference)).toEqual([16384, 16384]);
    expect(config!.vrrpInstances[0]!.virtualRules[0]!.preference).toBe(16383);
    expect(messages.filter((m) => m.includes('has no `preference`'))).toEqual([
      's.conf:2:3: warning: the rule has no `preference`; keepalived gives it 16384, so does ipvsd (rules are matched in preference order, so give one)',
      's.conf:3:3: warning: the rule has no `preference`; keepalived gives it 16384, so does ipvsd (rules are matched in preference order, so give one)',
      's.conf:12:5: warning: the rule has no `preference`; keepalived gives it 16383, so does ipvsd (rules are matched in preference order, so give one)',
    ]);
  });

  it('rejects a bad line at the word that is wrong, and the whole file with it', () => {
    const { config, messages } = load(`static_routes {
  198.51.100.0/24 via 10.0.0.254 dev eth1 metric lots
}
static_rules {
  from 10.1.0.0/16 preference 7
  from 10.1.0.0/16 tabel 100
}
`);
    expect(config).toBeUndefined();
    expect(messages).toEqual([
      expect.stringMatching(/^s\.conf:2:50: error: .*metric/),
      's.conf:5:3: error: a rule needs an action: `table ID`, `goto N`, `nop`, `blackhole`, `unreachable` or `prohibit`',
      expect.stringMatching(/^s\.conf:6:20: error: unknown rule option `tabel`/),
    ]);
  });

  it('rejects a nested block', () => {
    const { messages } = load('static_routes {\n  198.51.100.0/24 dev eth1 {\n  }\n}\n');
    expect(messages).toEqual(['s.conf:2:3: error: a `static_routes` line does not take a `{ ... }` block']);
  });
});

describe('static_ipaddress', () => {
  it('puts an address written without dev on eth0, as keepalived does, and says so', () => {
    const { config, messages } = load(`static_ipaddress {
  192.0.2.10/32 dev lo scope host
  192.0.2.11/24
}
`);
    expect(config!.staticIpAddresses).toMatchObject([
      { address: '192.0.2.10', prefixLength: 32, device: 'lo', scope: 'host' },
      { address: '192.0.2.11', prefixLength: 24, device: 'eth0' },
    ]);
    expect(messages).toEqual(['s.conf:3:3: warning: the static address has no `dev`; keepalived puts it on eth0, so does ipvsd (give the interface)']);
  });
});
