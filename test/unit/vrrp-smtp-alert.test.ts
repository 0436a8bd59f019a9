import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import type { KeepalivedConfig } from '../../src/config/model.js';
import { alertText, mailData, sendMail, SmtpAlert, SmtpAlertError, type SmtpAlertOutcome } from '../../src/vrrp/smtp-alert.js';
import { SmtpListener } from './smtp-listener.js';

const listeners: SmtpListener[] = [];
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

async function listener(...args: ConstructorParameters<typeof SmtpListener>): Promise<SmtpListener> {
  const l = new SmtpListener(...args);
  listeners.push(l);
  await l.listen();
  return l;
}

const date = new Date(2026, 10, 22, 4, 5, 6);
const mail = { from: 'lb@example.com', to: ['ops@example.com', 'oncall@example.com'], subject: 'S', body: 'line one\n.dot line', date };

function config(text: string): KeepalivedConfig {
  const { config, diagnostics } = loadConfigText(text, 'inline.conf', { configId: 'test', env: {} });
  if (!config) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return config;
}

const conf = (port: number, instanceLines = '    smtp_alert\n', globals = '') => `global_defs {
  router_id lb1
  notification_email {
    ops@example.com
    oncall@example.com
  }
  notification_email_from lb1@example.com
  smtp_server 127.0.0.1 ${port}
  smtp_connect_timeout 2
${globals}}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
${instanceLines}  virtual_ipaddress {
    10.0.0.100/24
  }
}
vrrp_instance VI_2 {
  state BACKUP
  interface eth0
  virtual_router_id 52
  priority 100
  virtual_ipaddress {
    10.0.0.101/24
  }
}
`;

describe('alertText', () => {
  it('words instance transitions as keepalived does', () => {
    expect(alertText('lb1', 'INSTANCE', 'VI_1', 'MASTER')).toEqual({ subject: '[lb1] VRRP Instance VI_1 - Entering MASTER state', body: '=> VRRP Instance is now owning VRRP VIPs <=' });
    expect(alertText('lb1', 'INSTANCE', 'VI_1', 'BACKUP')).toEqual({ subject: '[lb1] VRRP Instance VI_1 - Entering BACKUP state', body: '=> VRRP Instance is no longer owning VRRP VIPs <=' });
    expect(alertText('lb1', 'INSTANCE', 'VI_1', 'FAULT').subject).toBe('[lb1] VRRP Instance VI_1 - Entering FAULT state');
    expect(alertText('lb1', 'INSTANCE', 'VI_1', 'STOP')).toEqual({ subject: '[lb1] VRRP Instance VI_1 - Stopping', body: '=> VRRP Instance stopping <=' });
  });

  it('words sync group transitions as keepalived does', () => {
    expect(alertText('lb1', 'GROUP', 'G1', 'MASTER')).toEqual({ subject: '[lb1] VRRP Group G1 - Entering MASTER state', body: '=> All VRRP group instances are now in MASTER state <=' });
    expect(alertText('lb1', 'GROUP', 'G1', 'STOP').body).toBe('=> All VRRP group instances are now stopping <=');
  });
});

describe('mailData', () => {
  it('writes the headers, a blank line, the dot-stuffed body and the terminating dot with CRLF', () => {
    const text = mailData(mail);
    const lines = text.split('\r\n');
    expect(lines[0]).toMatch(/^Date: Sun, 22 Nov 2026 04:05:06 [+-]\d{4}$/);
    expect(lines.slice(1, 6)).toEqual(['From: lb@example.com', 'Subject: S', 'X-Mailer: ipvsd', 'To: ops@example.com, oncall@example.com', '']);
    expect(lines.slice(6)).toEqual(['line one', '..dot line', '.', '']);
  });
});

describe('sendMail', () => {
  it('speaks HELO, MAIL FROM, one RCPT TO per recipient, DATA and QUIT', async () => {
    const smtp = await listener();
    await sendMail({ host: '127.0.0.1', port: smtp.port, timeoutMs: 2000, heloName: 'lb1' }, mail);
    await expect.poll(() => smtp.sessions[0]?.at(-1)).toBe('QUIT');
    const [session] = smtp.sessions;
    expect(session!.slice(0, 5)).toEqual(['HELO lb1', 'MAIL FROM:<lb@example.com>', 'RCPT TO:<ops@example.com>', 'RCPT TO:<oncall@example.com>', 'DATA']);
    expect(session![5]).toContain('Subject: S\n');
    expect(session![5]).toContain('\nline one\n..dot line\n');
  });

  it('rejects with the refused step and the server reply', async () => {
    const smtp = await listener((line) => (line.startsWith('RCPT TO:<oncall') ? '550 5.1.1 no such user' : undefined));
    const err = await sendMail({ host: '127.0.0.1', port: smtp.port, timeoutMs: 2000, heloName: 'lb1' }, mail).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SmtpAlertError);
    expect(err).toMatchObject({ code: 'ESMTPREPLY', message: expect.stringContaining('refused RCPT TO oncall@example.com: 550 5.1.1 no such user') });
  });

  it('rejects when nothing listens', async () => {
    const smtp = await listener();
    const port = smtp.port;
    await smtp.close();
    listeners.length = 0;
    const err = await sendMail({ host: '127.0.0.1', port, timeoutMs: 2000, heloName: 'lb1' }, mail).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ESMTPCONNECT', message: expect.stringContaining('ECONNREFUSED') });
  });

  it('gives up on a server that never greets after the timeout', async () => {
    const smtp = await listener(undefined, '');
    const started = performance.now();
    const err = await sendMail({ host: '127.0.0.1', port: smtp.port, timeoutMs: 200, heloName: 'lb1' }, mail).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ESMTPTIMEOUT', message: expect.stringContaining('no reply to the greeting within 200 ms') });
    expect(performance.now() - started).toBeLessThan(1500);
  });
});

describe('SmtpAlert', () => {
  it('is not built without a server, without recipients, or without smtp_alert anywhere', () => {
    expect(SmtpAlert.fromConfig(config(conf(25).replace(/  smtp_server.*\n/, '')), 'host')).toBeUndefined();
    expect(SmtpAlert.fromConfig(config(conf(25).replace(/  notification_email \{[^}]*\}\n/, '')), 'host')).toBeUndefined();
    expect(SmtpAlert.fromConfig(config(conf(25, '')), 'host')).toBeUndefined();
    expect(SmtpAlert.fromConfig(config(conf(25, '', '  smtp_alert\n')), 'host')).toBeDefined();
  });

  it('mails each new state of an instance with smtp_alert once, in order, and nothing for the others', async () => {
    const smtp = await listener();
    const outcomes: SmtpAlertOutcome[] = [];
    const alert = SmtpAlert.fromConfig(config(conf(smtp.port)), 'host', (o) => outcomes.push(o), () => date)!;
    alert.transition('INSTANCE', 'VI_1', 'BACKUP');
    alert.transition('INSTANCE', 'VI_1', 'BACKUP');
    alert.transition('INSTANCE', 'VI_2', 'MASTER');
    alert.transition('INSTANCE', 'VI_1', 'MASTER');
    alert.transition('INSTANCE', 'VI_1', 'STOP');
    await alert.idle();
    expect(outcomes.map((o) => [o.subject, o.error])).toEqual([
      ['[lb1] VRRP Instance VI_1 - Entering BACKUP state', undefined],
      ['[lb1] VRRP Instance VI_1 - Entering MASTER state', undefined],
      ['[lb1] VRRP Instance VI_1 - Stopping', undefined],
    ]);
    expect(smtp.sessions).toHaveLength(3);
    const master = smtp.sessions[1]!;
    expect(master.slice(0, 4)).toEqual(['HELO host', 'MAIL FROM:<lb1@example.com>', 'RCPT TO:<ops@example.com>', 'RCPT TO:<oncall@example.com>']);
    expect(master.find((l) => l.startsWith('DATA '))).toContain('\n=> VRRP Instance is now owning VRRP VIPs <=\n');
  });

  it('reports a failed mail and still sends the next one', async () => {
    let refuse = true;
    const smtp = await listener((line) => {
      if (!line.startsWith('MAIL FROM') || !refuse) return undefined;
      refuse = false;
      return '451 try later';
    });
    const outcomes: SmtpAlertOutcome[] = [];
    const alert = SmtpAlert.fromConfig(config(conf(smtp.port)), 'host', (o) => outcomes.push(o))!;
    alert.transition('INSTANCE', 'VI_1', 'MASTER');
    alert.transition('INSTANCE', 'VI_1', 'BACKUP');
    await alert.idle();
    expect(outcomes.map((o) => o.error?.code)).toEqual(['ESMTPREPLY', undefined]);
  });

  it('lets a stop wait for a hung server only as long as it says', async () => {
    const smtp = await listener(undefined, '');
    const outcomes: SmtpAlertOutcome[] = [];
    const alert = SmtpAlert.fromConfig(config(conf(smtp.port)), 'host', (o) => outcomes.push(o))!;
    alert.transition('INSTANCE', 'VI_1', 'STOP');
    const started = performance.now();
    await alert.idle(100);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(outcomes).toEqual([]);
  });

  it('defaults the sender and HELO name from the host name', async () => {
    const smtp = await listener();
    const text = conf(smtp.port).replace('  notification_email_from lb1@example.com\n', '').replace('  router_id lb1\n', '');
    const outcomes: SmtpAlertOutcome[] = [];
    const alert = SmtpAlert.fromConfig(config(text), 'director2', (o) => outcomes.push(o))!;
    alert.transition('INSTANCE', 'VI_1', 'FAULT');
    await alert.idle();
    expect(smtp.sessions[0]!.slice(0, 2)).toEqual(['HELO director2', 'MAIL FROM:<keepalived@director2>']);
    expect(outcomes[0]!.subject).toBe('[director2] VRRP Instance VI_1 - Entering FAULT state');
  });
});
