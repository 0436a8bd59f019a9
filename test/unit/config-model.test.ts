// The typed model for the seeds' setups and keepalived's defaults and inheritance.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadConfigText } from '../../src/config/load.js';
import type { Checker, KeepalivedConfig } from '../../src/config/model.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/config/valid/${name}`, import.meta.url));

function loadFixture(name: string): KeepalivedConfig {
  const { config, diagnostics } = loadConfig(fixture(name), { configId: 'test', env: {} });
  expect(diagnostics).toEqual([]);
  return config!;
}

function loadText(text: string): KeepalivedConfig {
  const { config, diagnostics } = loadConfigText(text, 'inline.conf', { configId: 'test', env: {} });
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return config!;
}

function byType<T extends Checker['type']>(checkers: Checker[], type: T): Checker & { type: T } {
  return checkers.find((c) => c.type === type) as never;
}

describe('the nginx pair seed', () => {
  const config = loadFixture('nginx-pair-master.conf');

  it('reads the notification settings', () => {
    const g = config.globalDefs;
    expect(g.routerId).toBe('LB1');
    expect(g.notificationEmail).toEqual(['ops@example.com', 'oncall@example.com']);
    expect(g.notificationEmailFrom).toBe('lb1@example.com');
    expect(g.smtpServer).toEqual({ address: '192.0.2.25', family: 'inet', port: 25 });
    expect(g.smtpConnectTimeoutMs).toBe(30_000);
    expect(g.scriptUser).toEqual({ user: 'root', group: '' });
    expect(g.enableScriptSecurity).toBe(true);
  });

  it('reads the nginx vrrp_script with its weight and interval', () => {
    expect(config.vrrpScripts).toEqual([
      expect.objectContaining({
        name: 'chk_nginx',
        script: { argv: ['/usr/bin/pgrep', '-x', 'nginx'], user: '', group: '' },
        intervalMs: 1000,
        timeoutMs: 1000,
        weight: -15,
        weightReverse: false,
        rise: 1,
        fall: 2,
        initFail: false,
      }),
    ]);
  });

  it('reads the instance sharing the VIP', () => {
    const [vi] = config.vrrpInstances;
    expect(vi).toMatchObject({
      name: 'VI_1',
      state: 'MASTER',
      interface: 'eth0',
      virtualRouterId: 51,
      priority: 101,
      advertIntMs: 1000,
      version: 2,
      family: 'inet',
      nopreempt: false,
      authentication: { type: 'PASS', password: 's3cr3t' },
      trackScripts: [{ name: 'chk_nginx', weight: undefined, reverse: false }],
      mcastDstIp: { address: '224.0.0.18', family: 'inet' },
      garpMasterDelayMs: 5000,
      garpMasterRepeat: 5,
      garpLowerPrioDelayMs: 5000,
      garpLowerPrioRepeat: 5,
      downTimerAdverts: 3,
      accept: true,
    });
    expect(vi!.virtualIpAddresses).toEqual([
      expect.objectContaining({ address: '192.0.2.100', family: 'inet', prefixLength: 24, device: 'eth0', label: 'eth0:1' }),
    ]);
    expect(vi!.notify.master?.argv).toEqual(['/etc/keepalived/notify.sh', 'master']);
    expect(vi!.notify.fault?.argv).toEqual(['/etc/keepalived/notify.sh', 'fault']);
  });
});

describe('the LVS-DR seed', () => {
  const config = loadFixture('lvs-dr-wrr.conf');
  const [vs] = config.virtualServers;

  it('reads the service', () => {
    expect(vs).toMatchObject({
      target: { kind: 'address', address: '192.0.2.10', family: 'inet', port: 80 },
      protocol: 'tcp',
      scheduler: 'wrr',
      forwarding: { method: 'DR' },
      persistenceTimeout: 50,
      persistenceGranularity: 32,
      delayLoopMs: 6000,
      quorum: 1,
      hysteresis: 0,
    });
    expect(vs!.pos).toEqual({ file: fixture('lvs-dr-wrr.conf'), line: 6, column: 1 });
  });

  it('resolves each checker through real server and virtual server', () => {
    const [rs1, rs2] = vs!.realServers;
    expect(rs1).toMatchObject({ address: '198.51.100.11', port: 80, weight: 1, forwarding: { method: 'DR' } });
    expect(rs2).toMatchObject({ address: '198.51.100.12', port: 80, weight: 5 });
    expect(rs1!.checkers).toEqual([
      expect.objectContaining({
        type: 'TCP_CHECK', delayLoopMs: 6000, connectTimeoutMs: 3000, retry: 3, delayBeforeRetryMs: 3000, warmupMs: 6000,
        alpha: false, connectIp: { address: '198.51.100.11', family: 'inet' }, connectPort: 80, bindPort: 0, fwmark: 0,
      }),
    ]);
    expect(rs2!.checkers).toEqual([
      expect.objectContaining({ type: 'TCP_CHECK', delayLoopMs: 6000, connectTimeoutMs: 3000, retry: 1, delayBeforeRetryMs: 1000 }),
    ]);
  });
});

describe('the dual-master seed', () => {
  it('has two instances with crossing priorities', () => {
    const [a, b] = loadFixture('dual-master.conf').vrrpInstances;
    expect(a).toMatchObject({ name: 'VI_A', state: 'MASTER', priority: 150, virtualRouterId: 61, mcastSrcIp: { address: '192.0.2.1', family: 'inet' } });
    expect(b).toMatchObject({ name: 'VI_B', state: 'BACKUP', priority: 100, virtualRouterId: 62 });
    expect(a!.trackInterfaces).toEqual([{ name: 'lo', weight: -20, reverse: false }]);
    expect(b!.trackInterfaces).toEqual([{ name: 'lo', weight: 0, reverse: false }]);
    expect(a!.authentication).toEqual({ type: 'PASS', password: 'pairA' });
  });
});

describe('checker inheritance and defaults', () => {
  const [vs] = loadFixture('checkers.conf').virtualServers;
  const [rs1, rs2] = vs!.realServers;

  it('carries virtual server settings into HTTP_GET and SSL_GET', () => {
    const http = byType(rs1!.checkers, 'HTTP_GET');
    expect(http).toMatchObject({
      delayLoopMs: 10_000, connectTimeoutMs: 2000, retry: 2, delayBeforeRetryMs: 4000, warmupMs: 10_000, alpha: true,
      httpProtocol: '1.1', virtualhost: 'www.example.com', connectPort: 8443,
    });
    expect(http.urls).toEqual([
      expect.objectContaining({ path: '/healthz', statusCodes: [{ from: 200, to: 200 }, { from: 204, to: 204 }], digest: undefined }),
      expect.objectContaining({ path: '/index.html', statusCodes: [{ from: 200, to: 299 }], digest: '9b3b5a1a7f8c4a5b2e1d0c9b8a7f6e5d', virtualhost: 'static.example.com' }),
    ]);
    const ssl = byType(rs1!.checkers, 'SSL_GET');
    expect(ssl).toMatchObject({ enableSni: true, connectPort: 8443, httpProtocol: '1.0' });
    expect(ssl.urls[0]).toMatchObject({ path: '/', regex: 'ok|ready', regexNoMatch: true });
    expect(rs1).toMatchObject({ inhibitOnFailure: true, alpha: true, notifyUp: { argv: ['/usr/local/bin/rs-state', 'up'], user: '', group: '' } });
  });

  it('uses each checker type its own defaults where nothing is set', () => {
    expect(byType(rs2!.checkers, 'PING_CHECK')).toMatchObject({ delayLoopMs: 3000, warmupMs: 3000, retry: 2 });
    expect(byType(rs2!.checkers, 'DNS_CHECK')).toMatchObject({ queryType: 'A', name: 'example.com', delayBeforeRetryMs: 10_000, connectPort: 53 });
    expect(byType(rs2!.checkers, 'UDP_CHECK')).toMatchObject({ payload: '01020304', requireReply: '01xx', minReplyLength: 2, maxReplyLength: 255 });
    expect(byType(rs2!.checkers, 'SMTP_CHECK')).toMatchObject({ heloName: 'lb.example.com', delayBeforeRetryMs: 1000 });
    expect(byType(rs2!.checkers, 'MISC_CHECK')).toMatchObject({
      script: { argv: ['/usr/local/bin/check-app', '--port', '8443'], user: '', group: '' }, timeoutMs: 5000, dynamic: true, retry: 2,
    });
    expect(byType(rs2!.checkers, 'FILE_CHECK')).toMatchObject({ trackFile: 'maint', weight: 0, reverse: false });
  });

  it('reads quorum, hysteresis, the quorum scripts and the sorry server', () => {
    expect(vs).toMatchObject({
      quorum: 2, hysteresis: 1, quorumUp: { argv: ['/usr/local/bin/vs-up', '10.1.0.1'] },
      sorryServer: { address: '10.1.9.9', port: 8443, inhibit: false, forwarding: { method: 'NAT' } },
    });
  });
});

describe('defaults with nothing set', () => {
  const config = loadText(`
virtual_server 10.9.0.1 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.9.1.1 {
    TCP_CHECK {
    }
    HTTP_GET {
      url {
        path /
      }
    }
    DNS_CHECK {
    }
    MISC_CHECK {
      misc_path "/bin/true"
    }
  }
}`);
  const rs = config.virtualServers[0]!.realServers[0]!;

  it('gives the real server the virtual server port and weight 1', () => {
    expect(rs).toMatchObject({ port: 80, weight: 1, inhibitOnFailure: false, smtpAlert: true });
  });

  it('applies keepalived per-type retry and delay_before_retry defaults', () => {
    expect(byType(rs.checkers, 'TCP_CHECK')).toMatchObject({ delayLoopMs: 60_000, connectTimeoutMs: 5000, retry: 1, delayBeforeRetryMs: 1000, warmupMs: 60_000 });
    expect(byType(rs.checkers, 'HTTP_GET')).toMatchObject({ retry: 1, delayBeforeRetryMs: 3000, httpProtocol: '1.0' });
    expect(byType(rs.checkers, 'DNS_CHECK')).toMatchObject({ retry: 3, delayBeforeRetryMs: 60_000, queryType: 'SOA', name: '.' });
    expect(byType(rs.checkers, 'MISC_CHECK')).toMatchObject({ retry: 0, timeoutMs: 60_000, dynamic: false });
  });
});

describe('groups and global LVS options', () => {
  it('reads ranges, CIDR blocks and fwmarks', () => {
    const [group] = loadFixture('groups.conf').virtualServerGroups;
    expect(group!.ranges.map(({ first, last, port }) => [first, last, port])).toEqual([
      ['10.2.0.1', '10.2.0.1', 80],
      ['10.2.0.10', '10.2.0.12', 80],
      ['10.2.1.0', '10.2.1.3', 8080],
    ]);
    expect(group!.fwmarks.map((f) => f.fwmark)).toEqual([7]);
  });

  it('reads lvs_flush, timeouts, the sync daemon and the sync group', () => {
    const config = loadFixture('global-lvs.conf');
    expect(config.globalDefs).toMatchObject({
      lvsFlush: true,
      lvsFlushOnStop: 'vs',
      lvsTimeouts: { tcp: 900, tcpFin: 120, udp: 300 },
      lvsSyncDaemon: { interface: 'eth0', instance: 'VI_LVS', syncId: 10, maxLength: 1400, port: 8850, ttl: 2, group: '239.0.0.81' },
      lvsNotifyFifo: { path: '/run/ipvsd-test/lvs.fifo', script: { argv: ['/usr/local/bin/fifo-reader'], user: '', group: '' } },
      checkerLogAllFailures: true,
    });
    expect(config.globalDefs.vrrp).toMatchObject({ garpMasterDelayMs: 10_000, garpMasterRepeat: 3 });
    expect(config.staticIpAddresses).toEqual([expect.objectContaining({ address: '192.0.2.250', prefixLength: 32, device: 'lo', scope: 'host' })]);
    const [lvs, v3] = config.vrrpInstances;
    expect(lvs).toMatchObject({
      nopreempt: true, unicastSrcIp: { address: '192.0.2.2' }, unicastPeers: [{ address: '192.0.2.3', family: 'inet', minTtl: 0, maxTtl: 255 }],
      trackScripts: [{ name: 'chk_haproxy', weight: 20, reverse: false }], garpMasterDelayMs: 10_000, garpMasterRefreshMs: 60_000,
    });
    expect(lvs!.virtualIpAddressesExcluded[0]).toMatchObject({ address: '2001:db8::50', family: 'inet6', prefixLength: 64 });
    expect(lvs!.virtualRoutes[0]).toMatchObject({ destination: '198.51.100.0/24', words: ['198.51.100.0/24', 'via', '192.0.2.254', 'dev', 'eth0'] });
    expect(v3).toMatchObject({ version: 3, advertIntMs: 500, priority: 100, state: 'BACKUP' });
    expect(config.vrrpSyncGroups).toEqual([expect.objectContaining({ name: 'SG', instances: ['VI_LVS', 'VI_V3'], syncGroupTrackingWeight: true })]);
  });
});

describe('the remaining keywords', () => {
  const config = loadFixture('everything.conf');

  it('reads the global notification and VRRP defaults', () => {
    expect(config.globalDefs).toMatchObject({
      smtpServer: { address: '192.0.2.25', port: 2525 }, smtpHeloName: 'lb.example.com', smtpAlert: true, smtpAlertVrrp: false,
      smtpAlertChecker: true, noCheckerEmails: true, rsInitNotifies: true, lvsFlushOnStop: 'flush', reloadCheckConfig: true,
      notifyFifo: { path: '/run/ipvsd-test/notify.fifo', script: undefined }, scriptUser: { user: 'root', group: 'root' },
    });
    expect(config.globalDefs.vrrp).toMatchObject({
      garpMasterRefreshMs: 30_000, garpMasterRefreshRepeat: 2, garpLowerPrioDelayMs: 2000, garpLowerPrioRepeat: 2,
      garpIntervalMs: 1, gnaIntervalMs: 1, downTimerAdverts: 4, lowerPrioNoAdvert: true, higherPrioSendAdvert: true,
      skipCheckAdvAddr: true, startupDelayMs: 1000,
    });
  });

  it('reads the track file and the script with reverse weights', () => {
    expect(config.trackFiles).toEqual([
      expect.objectContaining({ name: 'override', file: '/tmp/ipvsd-test-override', weight: 5, reverse: true, initFile: { value: 0, overwrite: true } }),
    ]);
    expect(config.vrrpScripts[0]).toMatchObject({
      intervalMs: 2000, timeoutMs: 1000, weight: 10, weightReverse: true, rise: 3, fall: 2, initFail: true,
      script: { argv: ['/usr/bin/curl', '-fsS', 'http://127.0.0.1:8080/health'], user: 'root', group: '' },
    });
  });

  it('reads every instance setting', () => {
    expect(config.vrrpInstances[0]).toMatchObject({
      preemptDelayMs: 30_000, dontTrackPrimary: true, unicastTtl: 10,
      unicastPeers: [{ address: '192.0.2.92', family: 'inet', minTtl: 250, maxTtl: 255 }],
      trackScripts: [{ name: 'chk_api', weight: 5, reverse: false }],
      trackFiles: [{ name: 'override', weight: undefined, reverse: false }],
      trackInterfaces: [{ name: 'lo', weight: 10, reverse: true }],
      accept: true, promoteSecondaries: true, garpMasterDelayMs: 3000, garpMasterRepeat: 2, garpMasterRefreshMs: 10_000,
      garpMasterRefreshRepeat: 2, garpLowerPrioDelayMs: 1000, garpLowerPrioRepeat: 1, downTimerAdverts: 5,
      lowerPrioNoAdvert: true, higherPrioSendAdvert: true, skipCheckAdvAddr: true, smtpAlert: true,
    });
    expect(config.vrrpInstances[0]!.virtualIpAddresses[0]).toMatchObject({ broadcast: '192.0.2.255', scope: 'global', label: 'eth0:vip' });
    expect(config.vrrpInstances[0]!.notify.deleted?.argv).toEqual(['/usr/bin/logger', 'deleted']);
  });

  it('reads tunnels, persistence engine, flags and the checker connection settings', () => {
    const vs = config.virtualServers[0]!;
    expect(vs).toMatchObject({
      scheduler: 'lc', forwarding: { method: 'TUN', tunnelType: 'gre', tunnelChecksum: 'csum' }, persistenceTimeout: 360,
      persistenceEngine: 'sip', haSuspend: true, omega: true, smtpAlert: false, weight: 3,
      schedulerFlags: { flag1: true, flag2: false, flag3: true }, sorryServer: { inhibit: false, forwarding: { method: 'NAT' } },
    });
    const [rs1, rs2] = vs.realServers;
    expect(rs1).toMatchObject({ forwarding: { method: 'DR' }, upperThreshold: 500, lowerThreshold: 50, weight: 3, smtpAlert: true });
    expect(rs2).toMatchObject({ forwarding: { method: 'TUN', tunnelType: 'gre' }, checkers: [] });
    expect(byType(rs1!.checkers, 'TCP_CHECK')).toMatchObject({
      connectIp: { address: '198.51.100.191' }, connectPort: 8443, bindTo: { address: '192.0.2.90' }, bindPort: 40_000,
      bindInterface: 'eth0', fwmark: 3, logAllFailures: true, warmupMs: 5000, retry: 4, connectTimeoutMs: 4000,
      delayLoopMs: 20_000, delayBeforeRetryMs: 2000,
    });
    expect(byType(rs1!.checkers, 'HTTP_GET')).toMatchObject({ retry: 2, fastRecovery: true, virtualhost: 'api.example.com', warmupMs: 2000 });
    expect(byType(rs1!.checkers, 'HTTP_GET').urls[0]).toMatchObject({
      statusCodes: [{ from: 200, to: 204 }], regex: 'status.*up', regexOptions: ['caseless'], regexMaxOffset: 4096,
    });
  });
});

describe('the model is plain data', () => {
  it('survives a JSON round trip unchanged', () => {
    const config = loadFixture('checkers.conf');
    // A Map, Set, BigInt or class instance would not come back equal.
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
  });
});
