// Checker state across a reload: a checker whose real server and spec are unchanged keeps its
// state (timing aside); identical checkers of one real server are matched in order.
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { buildPools, type Pools } from '../../src/daemon/pools.js';

function conf(opts: { delayLoop?: number; secondPort?: number } = {}): string {
  return `virtual_server 10.99.0.100 80 {
    delay_loop ${opts.delayLoop ?? 5}
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.99.1.1 8080 {
        TCP_CHECK {
            connect_timeout 2
        }
        TCP_CHECK {
            connect_timeout 2${opts.secondPort === undefined ? '' : `\n            connect_port ${opts.secondPort}`}
        }
    }
    real_server 10.99.1.2 8080 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
}
`;
}

function pools(text: string, previous?: Pools): Pools {
  const { config, diagnostics } = loadConfigText(text, 'test.conf', { configId: 'lb1' });
  expect(config, diagnostics.map((d) => d.message).join('\n')).toBeDefined();
  return buildPools(config!, previous);
}

/** Every checker has run once: a reload that carries its state over keeps `hasRun`. */
function checked(p: Pools): Pools {
  for (const e of p.checkers.values()) e.state.result(1000, { ok: true, reason: 'connected', durationMs: 1 });
  return p;
}

const ran = (p: Pools) => Object.fromEntries([...p.checkers.values()].map((e) => [e.id, e.state.hasRun]));

describe('checker state across a reload', () => {
  const ids = ['tcp 10.99.0.100:80 10.99.1.1:8080 TCP_CHECK#1', 'tcp 10.99.0.100:80 10.99.1.1:8080 TCP_CHECK#2', 'tcp 10.99.0.100:80 10.99.1.2:8080 TCP_CHECK'];

  it('starts fresh without a previous configuration', () => {
    expect(Object.keys(ran(pools(conf())))).toEqual(ids);
    expect(Object.values(ran(pools(conf())))).toEqual([false, false, false]);
  });

  it('carries every checker over an unchanged file and over a timing change', () => {
    expect(Object.values(ran(pools(conf(), checked(pools(conf())))))).toEqual([true, true, true]);
    expect(Object.values(ran(pools(conf({ delayLoop: 3 }), checked(pools(conf())))))).toEqual([true, true, true]);
  });

  it('starts a checker whose spec changed afresh and keeps its identical sibling', () => {
    expect(ran(pools(conf({ secondPort: 8081 }), checked(pools(conf()))))).toEqual({ [ids[0]!]: true, [ids[1]!]: false, [ids[2]!]: true });
  });
});
