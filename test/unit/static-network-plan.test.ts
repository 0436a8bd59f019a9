// The pure half of the static entries: which lines a reload drops and adds, and what an interface
// coming back up needs put back.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText } from '../../src/config/load.js';
import { addressKey, entriesOnDevice, hasStaticEntries, noStaticEntries, staticChange, staticEntriesOf, type StaticEntries } from '../../src/daemon/static-network-plan.js';

function entries(addresses: string, routes = '', rules = ''): StaticEntries {
  const text = `static_ipaddress {\n${addresses}\n}\nstatic_routes {\n${routes}\n}\nstatic_rules {\n${rules}\n}\n`;
  const { config, diagnostics } = loadConfigText(text, 's.conf', { configId: 'lb1' });
  if (!config) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return staticEntriesOf(config);
}

const lines = (e: StaticEntries) => ({
  addresses: e.addresses.map((a) => `${a.address}/${a.prefixLength} ${a.device}`),
  routes: e.routes.map((r) => r.words.join(' ')),
  rules: e.rules.map((r) => r.words.join(' ')),
});

describe('staticChange', () => {
  it('drops what the new file left out, adds what it brought, and leaves the rest', () => {
    const before = entries(
      '  192.0.2.1/32 dev lo\n  192.0.2.2/32 dev lo',
      '  198.51.100.0/24 dev lo table 100\n  198.51.101.0/24 dev lo table 100',
      '  from 10.1.0.0/16 table 100 preference 100',
    );
    const after = entries(
      '  192.0.2.2/32 dev lo\n  192.0.2.3/32 dev lo',
      '  198.51.101.0/24 dev lo table 100\n  198.51.100.0/24 dev lo table 100 metric 5',
      '  from 10.1.0.0/16 table 100 preference 100',
    );
    const change = staticChange(before, after);
    expect(lines(change.removed)).toEqual({ addresses: ['192.0.2.1/32 lo'], routes: ['198.51.100.0/24 dev lo table 100'], rules: [] });
    expect(lines(change.added)).toEqual({ addresses: ['192.0.2.3/32 lo'], routes: ['198.51.100.0/24 dev lo table 100 metric 5'], rules: [] });
  });

  it('counts an address with a changed option as a different line, and one that only moved in the file as the same', () => {
    const before = entries('  192.0.2.1/32 dev lo label lo:a\n  192.0.2.2/32 dev lo');
    const after = entries('\n\n  192.0.2.2/32 dev lo\n  192.0.2.1/32 dev lo label lo:b');
    expect(addressKey(before.addresses[1]!)).toBe(addressKey(after.addresses[0]!));
    const change = staticChange(before, after);
    expect(lines(change.removed).addresses).toEqual(['192.0.2.1/32 lo']);
    expect(change.removed.addresses[0]!.label).toBe('lo:a');
    expect(change.added.addresses[0]!.label).toBe('lo:b');
  });

  it('from nothing adds everything, and to nothing removes everything', () => {
    const all = entries('  192.0.2.1/32 dev lo', '  blackhole 192.0.2.0/24', '  to 10.9.0.0/16 prohibit preference 9');
    expect(staticChange(noStaticEntries, all)).toEqual({ removed: noStaticEntries, added: all });
    expect(staticChange(all, noStaticEntries)).toEqual({ removed: all, added: noStaticEntries });
    expect(hasStaticEntries(all)).toBe(true);
    expect(hasStaticEntries(noStaticEntries)).toBe(false);
  });
});

describe('entriesOnDevice', () => {
  it('is the tracked addresses on the interface and the routes through it, never rules', () => {
    const all = entries(
      '  192.0.2.1/32 dev eth1\n  192.0.2.2/32 dev eth1 no_track\n  192.0.2.3/32 dev eth2',
      '  198.51.100.0/24 dev eth1\n  198.51.101.0/24 dev eth1 no_track\n  198.51.102.0/24 nexthop via 10.0.0.1 dev eth2 nexthop via 10.0.1.1 dev eth1\n  blackhole 192.0.2.0/24',
      '  iif eth1 table 100 preference 5',
    );
    expect(lines(entriesOnDevice(all, 'eth1'))).toEqual({
      addresses: ['192.0.2.1/32 eth1'],
      routes: ['198.51.100.0/24 dev eth1', '198.51.102.0/24 nexthop via 10.0.0.1 dev eth2 nexthop via 10.0.1.1 dev eth1'],
      rules: [],
    });
    expect(lines(entriesOnDevice(all, 'eth3'))).toEqual({ addresses: [], routes: [], rules: [] });
  });
});
