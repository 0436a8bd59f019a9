// lvs_notify_fifo / notify_fifo lines and checker / quorum mails for LVS: keepalived's words and
// formats, one open FIFO per path shared with VRRP, the reader script started as its user, and
// the smtp_alert / no_checker_emails rules.
import { chmodSync, closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import type { KeepalivedConfig, MiscCheck } from '../../src/config/model.js';
import { checkerMail, LvsNotifications, lvsRealServerName, lvsServiceName, quorumMail, type LvsNotifyOutcome } from '../../src/daemon/lvs-notify.js';
import { reloadEvents, startEvents, stopEvents, type LvsEvent } from '../../src/daemon/lvs-scripts.js';
import { applyReport, buildPools, type Pools } from '../../src/daemon/pools.js';
import { fifoLine, NotifyFifos } from '../../src/vrrp/notify-fifo.js';
import { VrrpRuntime } from '../../src/vrrp/runtime.js';
import { AlertMailer, alertRecipients } from '../../src/vrrp/smtp-alert.js';
import { SmtpListener } from './smtp-listener.js';
import { FakeClock, FakeHost } from './vrrp-fakes.js';

const dir = mkdtempSync(join(tmpdir(), 'ipvsd-lvs-notify-'));
chmodSync(dir, 0o755); // the reader script may run as nobody
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const open: Array<{ close(): void }> = [];
const listeners: SmtpListener[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) o.close();
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

function load(text: string): KeepalivedConfig {
  const { config, diagnostics } = loadConfigText(text, 'test.conf', { configId: 'lb1' });
  expect(config, diagnostics.map((d) => d.message).join('\n')).toBeDefined();
  return config!;
}

interface Shape {
  globals?: string;
  servers?: number[];
  quorum?: number;
  omega?: boolean;
  vsExtra?: string;
}

function conf(s: Shape = {}): string {
  const rs = (n: number) => `
    real_server 10.99.1.${n} 8080 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }`;
  return `global_defs {
    router_id lb1
${s.globals ?? ''}
}
virtual_server 10.99.0.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum ${s.quorum ?? 1}
    ${s.omega ? 'omega' : ''}
    ${s.vsExtra ?? ''}
${(s.servers ?? [1, 2]).map(rs).join('')}
}
`;
}

/** Reports one TCP_CHECK result for real server 10.99.1.N; returns the checker entry and its update. */
function check(p: Pools, n: number, ok: boolean) {
  const e = [...p.checkers.values()].find((c) => c.realServer.address === `10.99.1.${n}`)!;
  const probe = { ok, reason: ok ? 'connected' : 'connection refused', durationMs: 1 };
  const step = e.state.result(1000, probe);
  return { entry: e, step, update: applyReport(e, { checkerId: e.id, probeKey: 'k', step, probe, latenessMs: 0, sharedBy: 1 }) };
}

/** Everything a non-blocking reader finds in the FIFO now. */
function drain(fd: number): string {
  const buf = Buffer.alloc(65536);
  try {
    return buf.subarray(0, readSync(fd, buf)).toString();
  } catch {
    return ''; // EAGAIN: empty
  }
}

function reader(path: string): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  open.push({ close: () => closeSync(fd) });
  return fd;
}

describe('keepalived names in LVS notifications', () => {
  it('formats virtual and real servers as FMT_VS / FMT_RS do', () => {
    const config = load(`
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.0.2 8080 {
    }
}
virtual_server 2001:db8::1 53 {
    protocol UDP
    real_server 2001:db8::2 53 {
    }
}
virtual_server fwmark 5 {
    real_server 10.0.0.3 80 {
    }
}
virtual_server_group web {
    10.0.0.10 80
}
virtual_server group web {
    protocol TCP
    real_server 10.0.0.4 80 {
    }
}
`);
    const names = config.virtualServers.map((vs) => [lvsServiceName(vs), lvsRealServerName(vs, vs.realServers[0]!)]);
    expect(names).toEqual([
      ['[10.0.0.1]:tcp:80', '[10.0.0.2]:tcp:8080'],
      ['[2001:db8::1]:udp:53', '[2001:db8::2]:udp:53'],
      ['FWM 5', '[10.0.0.3]:none:80'],
      ['[web]:0', '[10.0.0.4]:tcp:80'],
    ]);
  });
});

describe('LVS lines on notify_fifo and lvs_notify_fifo', () => {
  it('writes RS and VS lines in keepalived format on real-server and quorum transitions, in order', () => {
    const lvsPath = join(dir, 'lvs1.fifo');
    const p = buildPools(load(conf({ globals: `lvs_notify_fifo ${lvsPath}`, quorum: 2 })));
    const notify = LvsNotifications.open(p.config, new NotifyFifos(), undefined);
    open.push(notify);
    const fd = reader(lvsPath);
    const pool = p.pools[0]!;
    const { update } = check(p, 2, false);
    expect(update.server?.kind).toBe('down');
    expect(update.quorum?.kind).toBe('quorum_down');
    notify.event({ kind: 'real-server', pool, realServer: pool.virtualServer.realServers[1]!, up: false, removed: false });
    notify.event({ kind: 'quorum', pool, up: false });
    check(p, 2, true);
    notify.event({ kind: 'real-server', pool, realServer: pool.virtualServer.realServers[1]!, up: true, removed: false });
    notify.event({ kind: 'quorum', pool, up: true });
    expect(drain(fd)).toBe(
      [
        'RS [10.99.1.2]:tcp:8080 [10.99.0.100]:tcp:80 DOWN',
        'VS [10.99.0.100]:tcp:80 DOWN',
        'RS [10.99.1.2]:tcp:8080 [10.99.0.100]:tcp:80 UP',
        'VS [10.99.0.100]:tcp:80 UP',
        '',
      ].join('\n'),
    );
  });

  it('writes the same line to notify_fifo and lvs_notify_fifo, and a path named twice is opened and written once', () => {
    const common = join(dir, 'common.fifo');
    const lvs = join(dir, 'lvs2.fifo');
    const shared = new NotifyFifos();
    const p = buildPools(load(conf({ globals: `notify_fifo ${common}\nlvs_notify_fifo ${lvs}` })));
    const notify = LvsNotifications.open(p.config, shared, undefined);
    open.push(notify);
    // VRRP opens notify_fifo through the same registry: still two files, one line stream each.
    const vrrp = shared.open({ path: common, script: undefined });
    open.push(vrrp);
    expect(shared.size).toBe(2);
    const [commonFd, lvsFd] = [reader(common), reader(lvs)];
    vrrp.write(fifoLine('VI_1', 'MASTER', 100));
    const pool = p.pools[0]!;
    notify.event({ kind: 'quorum', pool, up: true });
    expect(drain(commonFd)).toBe('INSTANCE "VI_1" MASTER 100\nVS [10.99.0.100]:tcp:80 UP\n');
    expect(drain(lvsFd)).toBe('VS [10.99.0.100]:tcp:80 UP\n');

    const same = join(dir, 'same.fifo');
    const both = LvsNotifications.open(load(conf({ globals: `notify_fifo ${same}\nlvs_notify_fifo ${same}` })), shared, undefined);
    open.push(both);
    expect(shared.size).toBe(3);
    const sameFd = reader(same);
    both.event({ kind: 'quorum', pool, up: false });
    expect(drain(sameFd)).toBe('VS [10.99.0.100]:tcp:80 DOWN\n');
  });

  it('shares notify_fifo with a running VRRP instance: one open FIFO, both kinds of lines in order', async () => {
    const path = join(dir, 'shared-vrrp.fifo');
    const config = load(`${conf({ globals: `notify_fifo ${path}` })}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {
    10.99.0.200/24
  }
}
`);
    const shared = new NotifyFifos();
    const notify = LvsNotifications.open(config, shared, undefined);
    open.push(notify);
    const clock = new FakeClock();
    const host = new FakeHost(clock);
    host.createInterface('eth0', '10.99.0.2/24');
    const runtime = await VrrpRuntime.start(config, { clock, system: host, fifos: shared });
    try {
      await clock.advance(0);
      expect(shared.size).toBe(1);
      const fd = reader(path);
      const pool = buildPools(config).pools[0]!;
      notify.event({ kind: 'quorum', pool, up: true });
      await clock.advance(4000); // past Master_Down_Interval: MASTER
      expect(drain(fd)).toBe('INSTANCE "VI_1" BACKUP 100\nVS [10.99.0.100]:tcp:80 UP\nINSTANCE "VI_1" MASTER 100\n');
    } finally {
      await runtime.stop();
    }
    // VRRP stopped; the LVS writer keeps the FIFO open.
    expect(shared.size).toBe(1);
  });

  it('keeps a shared FIFO open until its last writer closes, then removes the FIFO it created', () => {
    const path = join(dir, 'refcount.fifo');
    const shared = new NotifyFifos();
    const a = shared.open({ path, script: undefined });
    const b = shared.open({ path, script: undefined });
    expect(statSync(path).isFIFO()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o644);
    a.close();
    expect(shared.size).toBe(1);
    b.write('still open\n');
    expect(b.written).toBe(1);
    b.close();
    expect(shared.size).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it('lines for the start, a reload and the stop follow the events the scripts get', () => {
    const path = join(dir, 'lifecycle.fifo');
    const text = conf({ globals: `lvs_notify_fifo ${path}\nrs_init_notifies`, omega: true, servers: [1, 2, 3] });
    const before = buildPools(load(text));
    const notify = LvsNotifications.open(before.config, new NotifyFifos(), undefined);
    open.push(notify);
    const fd = reader(path);
    const send = (events: LvsEvent[]) => events.forEach((e) => notify.event(e));
    send(startEvents(before));
    check(before, 3, false);
    const after = buildPools(load(conf({ globals: `lvs_notify_fifo ${path}`, omega: true, servers: [1] })), before);
    send(reloadEvents(before, after));
    send(stopEvents(after, true));
    expect(drain(fd).split('\n')).toEqual([
      'RS [10.99.1.1]:tcp:8080 [10.99.0.100]:tcp:80 UP',
      'RS [10.99.1.2]:tcp:8080 [10.99.0.100]:tcp:80 UP',
      'RS [10.99.1.3]:tcp:8080 [10.99.0.100]:tcp:80 UP',
      'RS [10.99.1.2]:tcp:8080 [10.99.0.100]:tcp:80 DOWN',
      'RS [10.99.1.1]:tcp:8080 [10.99.0.100]:tcp:80 DOWN',
      'VS [10.99.0.100]:tcp:80 DOWN',
      '',
    ]);
  });

  it('starts the reader script with the FIFO path appended, as the script user, and stops it at close', async () => {
    const path = join(dir, 'reader.fifo');
    const out = join(dir, 'reader.out');
    const script = join(dir, 'reader.sh');
    writeFileSync(out, '');
    chmodSync(out, 0o666);
    writeFileSync(script, `#!/bin/sh\necho "uid $(id -u) $#" >> '${out}'\nwhile read -r line; do echo "$line" >> '${out}'; done < "$1"\n`);
    chmodSync(script, 0o755);
    const shared = new NotifyFifos();
    const fifo = shared.open({ path, script: { argv: [script], user: 'nobody', group: '' } });
    const nobody = Number(readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))!.split(':')[2]);
    expect(statSync(path).uid).toBe(nobody);
    fifo.write('RS [10.99.1.1]:tcp:8080 [10.99.0.100]:tcp:80 DOWN\n');
    await expect.poll(() => readFileSync(out, 'utf8'), { timeout: 5000 }).toBe(`uid ${nobody} 1\nRS [10.99.1.1]:tcp:8080 [10.99.0.100]:tcp:80 DOWN\n`);
    const running = () => findReader(script) !== undefined;
    expect(running()).toBe(true);
    fifo.close();
    await expect.poll(running, { timeout: 5000 }).toBe(false);
  });
});

/** A process running `script` (its command line), if any. */
function findReader(script: string): string | undefined {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(script)) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

describe('checker and quorum mails', () => {
  const config = load(conf({ vsExtra: 'smtp_alert', quorum: 2 }));
  const vs = config.virtualServers[0]!;
  const rs = vs.realServers[0]!;
  const tcp = rs.checkers[0]!;

  it('words a checker change as its checker does, with the server state after it', () => {
    expect(checkerMail('lb1', vs, rs, tcp, { checkerUp: false, serverAlive: false, serverChanged: true, timedOut: false }, false)).toEqual({
      subject: '[lb1] Realserver [10.99.1.1]:tcp:8080 of virtual server [10.99.0.100]:tcp:80 - DOWN',
      body: '=> TCP CHECK failed on service <=',
    });
    expect(checkerMail('lb1', vs, rs, tcp, { checkerUp: true, serverAlive: true, serverChanged: true, timedOut: false }, false)?.body).toBe('=> TCP CHECK succeed on service <=');
    const misc: MiscCheck = { ...(tcp as unknown as MiscCheck), type: 'MISC_CHECK' };
    expect(checkerMail('lb1', vs, rs, misc, { checkerUp: false, serverAlive: false, serverChanged: true, timedOut: true }, false)?.body).toBe('=> MISC CHECK timed out on service <=');
    expect(checkerMail('lb1', vs, rs, misc, { checkerUp: true, serverAlive: true, serverChanged: true, timedOut: false }, false)?.body).toBe('=> MISC CHECK succeeded on service <=');
  });

  it('with no_checker_emails, mails only a checker change that changed the server', () => {
    const second = { checkerUp: true, serverAlive: false, serverChanged: false, timedOut: false };
    expect(checkerMail('lb1', vs, rs, tcp, second, false)?.subject).toMatch(/ - DOWN$/);
    expect(checkerMail('lb1', vs, rs, tcp, second, true)).toBeUndefined();
    expect(checkerMail('lb1', vs, rs, tcp, { ...second, serverAlive: true, serverChanged: true }, true)?.subject).toMatch(/ - UP$/);
  });

  it('sends nothing for a real server without smtp_alert', () => {
    const quiet = { ...rs, smtpAlert: false };
    expect(checkerMail('lb1', vs, quiet, tcp, { checkerUp: false, serverAlive: false, serverChanged: true, timedOut: false }, false)).toBeUndefined();
  });

  it('words quorum changes as ipwrapper.c does', () => {
    expect(quorumMail('lb1', vs, { up: false, initial: false, stopping: false, weight: 1, threshold: 2 })).toEqual({
      subject: '[lb1] Virtualserver [10.99.0.100]:tcp:80 - DOWN',
      body: '=> Lost quorum 2+0=2 <= 1 <=',
    });
    expect(quorumMail('lb1', vs, { up: true, initial: true, stopping: false, weight: 2, threshold: 2 }).body).toBe('=> Starting with quorum up 2+0=2 <= 2 <=');
    expect(quorumMail('lb1', vs, { up: false, initial: false, stopping: true, weight: 0, threshold: 2 }).body).toBe('=> Shutting down <=');
  });

  it('sends the mails through smtp_server, beside the caller, and reports each outcome', async () => {
    const smtp = new SmtpListener();
    listeners.push(smtp);
    await smtp.listen();
    const globals = `notification_email {\n  ops@example.com\n}\nnotification_email_from lvs@example.com\nsmtp_server 127.0.0.1 ${smtp.port}`;
    const p = buildPools(load(conf({ globals, vsExtra: 'smtp_alert', quorum: 2 })));
    const outcomes: LvsNotifyOutcome[] = [];
    const notify = LvsNotifications.open(p.config, new NotifyFifos(), new AlertMailer(alertRecipients(p.config, 'director1')!), (o) => outcomes.push(o));
    const pool = p.pools[0]!;
    const { entry, update } = check(p, 1, false);
    notify.checker(pool.virtualServer, entry.realServer, entry.checker, { checkerUp: false, serverAlive: false, serverChanged: update.server !== undefined, timedOut: false });
    notify.event({ kind: 'quorum', pool, up: false });
    await notify.idle(5000);
    expect(outcomes.map((o) => [o.subject, o.error])).toEqual([
      ['[lb1] Realserver [10.99.1.1]:tcp:8080 of virtual server [10.99.0.100]:tcp:80 - DOWN', undefined],
      ['[lb1] Virtualserver [10.99.0.100]:tcp:80 - DOWN', undefined],
    ]);
    const data = smtp.sessions.map((s) => s.find((l) => l.startsWith('DATA '))!);
    expect(data[0]).toContain('=> TCP CHECK failed on service <=');
    expect(data[1]).toContain('=> Lost quorum 2+0=2 <= 1 <=');
    expect(smtp.sessions[0]).toContain('RCPT TO:<ops@example.com>');
  });

  it('sends no mail without smtp_server, and a dead server costs a reported failure, not a wait', async () => {
    const p = buildPools(load(conf({ vsExtra: 'smtp_alert' })));
    expect(alertRecipients(p.config, 'director1')).toBeUndefined();
    const dead = buildPools(load(conf({ globals: 'notification_email {\n  ops@example.com\n}\nsmtp_server 127.0.0.1 1\nsmtp_connect_timeout 1', vsExtra: 'smtp_alert' })));
    const outcomes: LvsNotifyOutcome[] = [];
    const notify = LvsNotifications.open(dead.config, new NotifyFifos(), new AlertMailer(alertRecipients(dead.config, 'director1')!), (o) => outcomes.push(o));
    const started = performance.now();
    notify.event({ kind: 'quorum', pool: dead.pools[0]!, up: false });
    expect(performance.now() - started).toBeLessThan(50);
    await notify.idle(5000);
    expect(outcomes[0]?.error?.code).toBe('ESMTPCONNECT');
  });
});
