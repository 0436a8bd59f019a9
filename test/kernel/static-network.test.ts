// Runs inside the UML guest: static_ipaddress, static_routes and static_rules applied by keepalived
// 2.2.7 and then by StaticNetwork over real rtnetlink, from the same file. What `ip addr`, `ip route`
// and `ip rule` show must be the same while each runs and after each stops; ipvsd also puts back
// what is deleted behind its back (an address, a route, a rule, an interface going down and up)
// and applies a reload's difference.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText } from '../../src/config/load.js';
import { staticEntriesOf, type StaticEntries } from '../../src/daemon/static-network-plan.js';
import { StaticNetwork } from '../../src/daemon/static-network.js';
import { assertInGuest, LabCommandError, run } from '../lab/netns.js';

const LINK = 'ipvsdst0';
const TABLE = '178';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function conf(addresses: string, routes: string, rules: string): string {
  return `global_defs {\n  router_id st1\n}\nstatic_ipaddress {\n${addresses}\n}\nstatic_routes {\n${routes}\n}\nstatic_rules {\n${rules}\n}\n`;
}

const first = conf(
  `  10.78.0.10/32 dev ${LINK}\n  2001:db8:78::10/64 dev ${LINK}`,
  `  198.51.100.0/24 via 10.78.0.254 dev ${LINK} table ${TABLE}\n  blackhole 192.0.2.0/24 table ${TABLE}\n  2001:db8:79::/64 via 2001:db8:78::fe dev ${LINK} table ${TABLE}`,
  `  from 10.1.0.0/16 table ${TABLE} preference 178\n  to 2001:db8:9::/48 table ${TABLE} preference 179`,
);

// The reload: the blackhole route and the IPv6 rule go, an address comes, a route's metric changes.
const second = conf(
  `  10.78.0.10/32 dev ${LINK}\n  10.78.0.11/32 dev ${LINK}\n  2001:db8:78::10/64 dev ${LINK}`,
  `  198.51.100.0/24 via 10.78.0.254 dev ${LINK} table ${TABLE} metric 7\n  2001:db8:79::/64 via 2001:db8:78::fe dev ${LINK} table ${TABLE}`,
  `  from 10.1.0.0/16 table ${TABLE} preference 178`,
);

function entries(text: string): StaticEntries {
  const { config, diagnostics } = loadConfigText(text, 'static.conf', { configId: 'st1' });
  if (!config) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return staticEntriesOf(config);
}

/** The table's routes; '' while it has none (the kernel has no such table then). */
function tableRoutes(family: '-4' | '-6'): string {
  try {
    return run(['ip', family, 'route', 'show', 'table', TABLE]);
  } catch (err) {
    if (err instanceof LabCommandError && err.stderr.includes('does not exist')) return '';
    throw err;
  }
}

/** What `ip` shows of the static entries: the test's own addresses and the kernel's routes and rules are left out. */
function view(): string[] {
  const addresses = run(['ip', '-o', 'addr', 'show', 'dev', LINK])
    .split('\n')
    .filter((l) => /inet6? (10\.78\.0\.1[0-9]|2001:db8:78::10)\//.test(l))
    .map((l) => l.replace(/^\d+: \S+\s+/, '').replace(/[\\\s]+/g, ' ').trim());
  const routes = [tableRoutes('-4'), tableRoutes('-6')].join('').split('\n');
  const rules = [run(['ip', 'rule', 'show']), run(['ip', '-6', 'rule', 'show'])].join('').split('\n').filter((l) => l.includes('proto keepalived'));
  return [...addresses, ...routes, ...rules].map((l) => l.trim()).filter(Boolean).sort();
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; ip shows:\n${view().join('\n')}`);
    await sleep(100);
  }
}

class RecordingLog {
  readonly events: string[] = [];
  info(fields: { event: string }): void {
    this.events.push(fields.event);
  }
  warn(fields: { event: string }): void {
    this.events.push(fields.event);
  }
}

let scratch: string;
let empty: string[];
let keepalivedView: string[];

beforeAll(() => {
  assertInGuest();
  scratch = mkdtempSync(join(tmpdir(), 'ipvsd-static-'));
  run(['ip', 'link', 'add', LINK, 'type', 'dummy']);
  run(['ip', 'link', 'set', LINK, 'up']);
  run(['ip', 'addr', 'add', '10.78.0.1/24', 'dev', LINK]);
  run(['ip', '-6', 'addr', 'add', '2001:db8:78::1/64', 'dev', LINK, 'nodad']);
  empty = view();
});

afterAll(() => {
  run(['ip', 'link', 'del', LINK]);
  // What a failed run left: routes of the table and rules by preference (none is an error from ip, ignored).
  for (const argv of ['-4 route flush table 178', '-6 route flush table 178', '-4 rule del pref 178', '-6 rule del pref 179'].map((a) => a.split(' '))) {
    try {
      run(['ip', ...argv]);
    } catch {
      // nothing there to clean
    }
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe('static addresses, routes and rules in a real kernel', () => {
  it('keepalived 2.2.7 adds them at start and removes them at stop (the reference)', async () => {
    const path = join(scratch, 'keepalived.conf');
    writeFileSync(path, first);
    const keepalived = spawn('keepalived', ['-n', '-l', '-D', '-P', '-f', path, '-p', join(scratch, 'k.pid'), '-r', join(scratch, 'v.pid')], { stdio: 'ignore' });
    const exited = new Promise((resolve) => keepalived.once('exit', resolve));
    try {
      await until('keepalived to add its static entries', () => view().length === empty.length + 7, 20_000);
      keepalivedView = view();
    } finally {
      keepalived.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
    }
    expect(keepalivedView).toEqual(expect.arrayContaining([
      `inet 10.78.0.10/32 scope global ${LINK} valid_lft forever preferred_lft forever`,
      `198.51.100.0/24 via 10.78.0.254 dev ${LINK} proto keepalived`,
      'blackhole 192.0.2.0/24 proto keepalived',
      `178:\tfrom 10.1.0.0/16 lookup ${TABLE} proto keepalived`,
    ]));
    expect(view()).toEqual(empty);
  });

  it('StaticNetwork shows the same at start, puts back what is deleted, applies a reload and removes all at stop', async () => {
    expect(keepalivedView, 'the keepalived reference ran').toBeDefined();
    const log = new RecordingLog();
    const statics = new StaticNetwork({ log: log as never });
    try {
      expect(await statics.apply(entries(first), 'start')).toEqual([]);
      expect(view()).toEqual(keepalivedView);

      run(['ip', 'addr', 'del', '10.78.0.10/32', 'dev', LINK]);
      run(['ip', 'route', 'del', '198.51.100.0/24', 'table', TABLE]);
      run(['ip', 'rule', 'del', 'pref', '178']);
      await until('the deleted address, route and rule to come back', () => view().join('\n') === keepalivedView.join('\n'));
      expect(log.events.filter((e) => e.endsWith('-restored')).sort()).toEqual(['static-address-restored', 'static-route-restored', 'static-rule-restored']);

      // Down drops the routes through the link and its IPv6 addresses; up brings them back.
      run(['ip', 'link', 'set', LINK, 'down']);
      await until('the kernel to drop the routes through the link', () => !view().some((l) => l.startsWith('198.51.100.0/24')));
      run(['ip', 'link', 'set', LINK, 'up']);
      await until('the link\'s addresses and routes to come back', () => view().join('\n') === keepalivedView.join('\n'));

      expect(await statics.apply(entries(second), 'reload')).toEqual([]);
      const reloaded = view();
      // The blackhole route and rule 179 gone, 10.78.0.11 added, the route's metric now 7.
      expect(reloaded).toEqual([
        `178:\tfrom 10.1.0.0/16 lookup ${TABLE} proto keepalived`,
        `198.51.100.0/24 via 10.78.0.254 dev ${LINK} proto keepalived metric 7`,
        `2001:db8:79::/64 via 2001:db8:78::fe dev ${LINK} proto keepalived metric 1024 pref medium`,
        `inet 10.78.0.10/32 scope global ${LINK} valid_lft forever preferred_lft forever`,
        `inet 10.78.0.11/32 scope global ${LINK} valid_lft forever preferred_lft forever`,
        `inet6 2001:db8:78::10/64 scope global nodad valid_lft forever preferred_lft forever`,
      ]);
      await sleep(300); // the reload's own deletions must not be "put back"
      expect(view()).toEqual(reloaded);
    } finally {
      expect(await statics.stop()).toEqual([]);
    }
    expect(view()).toEqual(empty);
    expect(log.events.filter((e) => e.endsWith('-failed'))).toEqual([]);
  });
});
