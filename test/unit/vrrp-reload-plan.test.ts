import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText } from '../../src/config/load.js';
import type { KeepalivedConfig } from '../../src/config/model.js';
import { planReload } from '../../src/vrrp/reload-plan.js';

function conf(instances: Array<{ name: string; vrid?: number; lines?: string }>, leading = ''): KeepalivedConfig {
  const text = `${leading}global_defs {\n  router_id lb1\n}\n${instances
    .map(
      (i) => `vrrp_instance ${i.name} {
  interface eth0
  virtual_router_id ${i.vrid ?? 51}
  priority 100
  ${i.lines ?? ''}
  virtual_ipaddress {
    10.0.0.1/24
  }
}
`,
    )
    .join('')}`;
  const { config, diagnostics } = loadConfigText(text, 'k.conf', { configId: 'lb1' });
  if (!config) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return config;
}

describe('planReload', () => {
  it('sorts instances into unchanged, changed, restarted, added and removed', () => {
    const before = conf([{ name: 'SAME', vrid: 1 }, { name: 'PRIO', vrid: 2 }, { name: 'VRID', vrid: 3 }, { name: 'GONE', vrid: 4 }]);
    const after = conf([{ name: 'NEW', vrid: 4 }, { name: 'VRID', vrid: 13 }, { name: 'PRIO', vrid: 2, lines: 'priority 120' }, { name: 'SAME', vrid: 1 }]);
    expect(planReload(before, after)).toEqual([
      { name: 'NEW', change: 'added' },
      { name: 'VRID', change: 'restart', reason: 'virtual_router_id 3 -> 13' },
      { name: 'PRIO', change: 'changed' },
      { name: 'SAME', change: 'unchanged' },
      { name: 'GONE', change: 'removed' },
    ]);
  });

  it('does not count moved source lines as a change', () => {
    expect(planReload(conf([{ name: 'A' }]), conf([{ name: 'A' }], '\n\n\n'))).toEqual([{ name: 'A', change: 'unchanged' }]);
  });

  it('restarts on a new interface, version, or becoming / ceasing to be the address owner; not on other priorities', () => {
    const one = (lines: string) => conf([{ name: 'A', lines }]);
    expect(planReload(one(''), one('interface eth1'))[0]).toMatchObject({ change: 'restart', reason: 'interface eth0 -> eth1' });
    expect(planReload(one(''), one('version 3'))[0]).toMatchObject({ change: 'restart', reason: 'version 2 -> 3' });
    expect(planReload(one(''), one('priority 255'))[0]).toMatchObject({ change: 'restart', reason: 'priority 100 -> 255 (address owner)' });
    expect(planReload(one('priority 200'), one('priority 254'))[0]).toMatchObject({ change: 'changed' });
    expect(planReload(one(''), one('nopreempt'))[0]).toMatchObject({ change: 'changed' });
  });
});
