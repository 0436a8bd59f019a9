// What ipvsd tells operators about LVS, end to end in the daemon: the RS / VS lines on
// notify_fifo (read by its reader script) and lvs_notify_fifo on real-server and quorum
// transitions and, with omega, at stop; the smtp_alert mails for the checker and quorum changes.
import { chmodSync, closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipvsadm } from '../lab/ipvsadm.js';
import { cli, IpvsdProcess, sleep, until } from '../lab/ipvsd-process.js';
import { assertInGuest } from '../lab/netns.js';
import { SmtpListener } from '../unit/smtp-listener.js';
import { LoopbackListeners } from '../lab/loopback-listeners.js';

let scratch: string;
const daemons: IpvsdProcess[] = [];
const listeners = new LoopbackListeners();
let smtp: SmtpListener;

beforeAll(async () => {
  assertInGuest();
  expect(existsSync(cli), `${cli} is missing: run \`npm run build:ts\` first`).toBe(true);
  ipvsadm('-C');
  scratch = mkdtempSync(join(tmpdir(), 'ipvsd-notify-'));
  smtp = new SmtpListener();
  await smtp.listen();
});

afterAll(async () => {
  for (const d of daemons) if (d.alive && d.child.pid !== undefined) process.kill(d.child.pid, 'SIGKILL');
  await listeners.closeAll();
  await smtp.close();
  ipvsadm('-C');
  rmSync(scratch, { recursive: true, force: true });
});

describe('LVS notifications from the daemon', () => {
  it('writes RS / VS lines to both FIFOs and mails checker and quorum changes', async () => {
    const common = join(scratch, 'notify.fifo');
    const lvs = join(scratch, 'lvs.fifo');
    const readerOut = join(scratch, 'reader.out');
    const reader = join(scratch, 'reader.sh');
    writeFileSync(reader, `#!/bin/sh\nwhile read -r line; do echo "$line" >> '${readerOut}'; done < "$1"\n`);
    chmodSync(reader, 0o755);
    const rs = (n: number) => `  real_server 127.0.0.${n} 8080 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
`;
    const path = join(scratch, 'keepalived.conf');
    writeFileSync(
      path,
      `global_defs {
  router_id lb1
  enable_script_security
  script_user root
  notification_email {
    ops@example.com
  }
  smtp_server 127.0.0.1 ${smtp.port}
  notify_fifo ${common}
  notify_fifo_script ${reader}
  lvs_notify_fifo ${lvs}
}
virtual_server 10.97.1.9 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  omega
  quorum 2
  smtp_alert
${rs(62)}${rs(63)}}
`,
    );
    for (const n of [62, 63]) await listeners.open(n);
    const d = new IpvsdProcess(['-f', path, '--socket', join(scratch, 'ipvsd.sock'), '--metrics-listen', 'none']);
    daemons.push(d);
    await d.waitForEvent('started', 0, 20_000);
    // The daemon keeps the FIFO open read-write: lines wait in it until this reader drains them.
    const fd = openSync(lvs, constants.O_RDONLY | constants.O_NONBLOCK);
    let seen = '';
    const drain = () => {
      const buf = Buffer.alloc(65536);
      try {
        seen += buf.subarray(0, readSync(fd, buf)).toString();
      } catch {
        // EAGAIN: nothing new
      }
      return seen.split('\n').filter(Boolean);
    };
    const linesBecome = async (read: () => string[], want: string[], ms: number) => {
      await until(() => read().length >= want.length, ms, 50);
      expect(read()).toEqual(want);
    };
    const fromReader = () => (existsSync(readerOut) ? readFileSync(readerOut, 'utf8').split('\n').filter(Boolean) : []);

    await listeners.close(62);
    const down = ['RS [127.0.0.62]:tcp:8080 [10.97.1.9]:tcp:80 DOWN', 'VS [10.97.1.9]:tcp:80 DOWN'];
    await linesBecome(drain, down, 6000);
    await listeners.open(62);
    const up = ['RS [127.0.0.62]:tcp:8080 [10.97.1.9]:tcp:80 UP', 'VS [10.97.1.9]:tcp:80 UP'];
    await linesBecome(drain, [...down, ...up], 6000);
    // notify_fifo gets the same lines, through the reader script the daemon started.
    await linesBecome(fromReader, [...down, ...up], 3000);

    await d.stop();
    expect(d.child.exitCode).toBe(0);
    const stop = ['RS [127.0.0.62]:tcp:8080 [10.97.1.9]:tcp:80 DOWN', 'RS [127.0.0.63]:tcp:8080 [10.97.1.9]:tcp:80 DOWN', 'VS [10.97.1.9]:tcp:80 DOWN'];
    await linesBecome(drain, [...down, ...up, ...stop], 2000);
    closeSync(fd);
    // The FIFOs ipvsd created go with it.
    expect(existsSync(lvs)).toBe(false);
    expect(existsSync(common)).toBe(false);

    const subjects = smtp.sessions.map((s) => s.find((l) => l.startsWith('DATA '))?.match(/Subject: ([^\n]*)/)?.[1]);
    // As in keepalived, a checker mails after the quorum change its result caused.
    expect(subjects).toEqual([
      '[lb1] Virtualserver [10.97.1.9]:tcp:80 - DOWN',
      '[lb1] Realserver [127.0.0.62]:tcp:8080 of virtual server [10.97.1.9]:tcp:80 - DOWN',
      '[lb1] Virtualserver [10.97.1.9]:tcp:80 - UP',
      '[lb1] Realserver [127.0.0.62]:tcp:8080 of virtual server [10.97.1.9]:tcp:80 - UP',
      '[lb1] Realserver [127.0.0.62]:tcp:8080 of virtual server [10.97.1.9]:tcp:80 - DOWN',
      '[lb1] Realserver [127.0.0.63]:tcp:8080 of virtual server [10.97.1.9]:tcp:80 - DOWN',
      '[lb1] Virtualserver [10.97.1.9]:tcp:80 - DOWN',
    ]);
    const bodies = smtp.sessions.map((s) => s.find((l) => l.startsWith('DATA '))!);
    expect(bodies[0]).toContain('=> Lost quorum 2+0=2 <= 1 <=');
    expect(bodies[1]).toContain('=> TCP CHECK failed on service <=');
    expect(bodies[6]).toContain('=> Shutting down <=');
  });

  it('on a reload, a removed real server gets its DOWN line and "Removing" mail; an unsafe script is disabled and reported at its line', async () => {
    const lvs = join(scratch, 'reload.fifo');
    const out = join(scratch, 'reload-scripts.out');
    const safe = join(scratch, 'safe.sh');
    const unsafe = join(scratch, 'unsafe.sh');
    for (const f of [safe, unsafe]) writeFileSync(f, `#!/bin/sh\necho "$*" >> '${out}'\n`);
    chmodSync(safe, 0o755);
    chmodSync(unsafe, 0o757);
    const rs = (n: number) => `  real_server 127.0.0.${n} 8080 {\n    weight 1\n    notify_down "${n === 64 ? unsafe : safe} down ${n}"\n  }\n`;
    const conf = (...servers: number[]) =>
      `global_defs {\n  router_id lb1\n  enable_script_security\n  script_user root\n  notification_email {\n    ops@example.com\n  }\n  smtp_server 127.0.0.1 ${smtp.port}\n  lvs_notify_fifo ${lvs}\n}\nvirtual_server 10.97.1.10 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n${servers.map(rs).join('')}}\n`;
    const path = join(scratch, 'reload.conf');
    writeFileSync(path, conf(64, 65, 66));
    const sessions = smtp.sessions.length;
    const d = new IpvsdProcess(['-f', path, '--socket', join(scratch, 'reload.sock'), '--metrics-listen', 'none']);
    daemons.push(d);
    await d.waitForEvent('started', 0, 20_000);
    const warning = d.events('config-warning').map((l) => String(l.diagnostic)).find((m) => m.includes('unsafe.sh'));
    expect(warning).toBe(`${path}:17:5: warning: \`notify_down\`: unsafe permissions for script \`${unsafe}\` run as root: ${unsafe} is writable by everyone; script disabled (enable_script_security)`);
    const fd = openSync(lvs, constants.O_RDONLY | constants.O_NONBLOCK);
    writeFileSync(path, conf(66));
    const mark = d.logs.length;
    d.child.kill('SIGHUP');
    await d.waitForEvent('reloaded', mark, 10_000);
    await sleep(300);
    const buf = Buffer.alloc(4096);
    const lines = buf.subarray(0, readSync(fd, buf)).toString().split('\n').filter(Boolean);
    closeSync(fd);
    expect(lines).toEqual(['RS [127.0.0.64]:tcp:8080 [10.97.1.10]:tcp:80 DOWN', 'RS [127.0.0.65]:tcp:8080 [10.97.1.10]:tcp:80 DOWN']);
    // The unsafe notify_down of .64 did not run; the safe one of .65 did.
    expect(readFileSync(out, 'utf8')).toBe('down 65\n');
    const sent = () => smtp.sessions.slice(sessions).flatMap((s) => s.filter((l) => l.startsWith('DATA ')));
    await expect.poll(() => sent().length, { timeout: 5000 }).toBe(2);
    const mails = sent();
    expect(mails.map((m) => m.match(/Subject: ([^\n]*)/)?.[1])).toEqual([
      '[lb1] Realserver [127.0.0.64]:tcp:8080 of virtual server [10.97.1.10]:tcp:80 - DOWN',
      '[lb1] Realserver [127.0.0.65]:tcp:8080 of virtual server [10.97.1.10]:tcp:80 - DOWN',
    ]);
    expect(mails[0]).toContain('=> Removing <=');
    await d.stop();
    expect(d.child.exitCode).toBe(0);
  });
});
