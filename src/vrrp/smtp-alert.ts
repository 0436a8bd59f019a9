// `smtp_alert`: one email per state change of a VRRP instance or sync group (and, through
// AlertMailer, per LVS checker and quorum change), worded as keepalived words them, sent to every
// `notification_email` through `smtp_server` with a small SMTP client (HELO, MAIL FROM, RCPT TO, DATA, QUIT). A mail server that is down or slow costs a
// logged failure, never a delayed transition: sending runs beside the state machine.
import { connect, type Socket } from 'node:net';
import type { KeepalivedConfig } from '../config/model.js';
import type { NotifyState } from './notify.js';

export class SmtpAlertError extends Error {
  constructor(
    readonly code: 'ESMTPCONNECT' | 'ESMTPTIMEOUT' | 'ESMTPREPLY' | 'ESMTPCLOSED',
    message: string,
  ) {
    super(message);
  }
}

export type AlertSource = 'INSTANCE' | 'GROUP';

export interface AlertText {
  subject: string;
  body: string;
}

const instanceWords: Record<NotifyState, [string, string]> = {
  MASTER: ['Entering MASTER state', '=> VRRP Instance is now owning VRRP VIPs <='],
  BACKUP: ['Entering BACKUP state', '=> VRRP Instance is no longer owning VRRP VIPs <='],
  FAULT: ['Entering FAULT state', '=> VRRP Instance is no longer owning VRRP VIPs <='],
  STOP: ['Stopping', '=> VRRP Instance stopping <='],
};

const groupWords: Record<NotifyState, [string, string]> = {
  MASTER: ['Entering MASTER state', '=> All VRRP group instances are now in MASTER state <='],
  BACKUP: ['Entering BACKUP state', '=> All VRRP group instances are now in BACKUP state <='],
  FAULT: ['Entering FAULT state', '=> All VRRP group instances are now in FAULT state <='],
  STOP: ['Stopping', '=> All VRRP group instances are now stopping <='],
};

/** keepalived's subject and body for a transition: "[router_id] VRRP Instance VI_1 - Entering MASTER state". */
export function alertText(routerId: string, source: AlertSource, name: string, state: NotifyState): AlertText {
  const [subject, body] = (source === 'INSTANCE' ? instanceWords : groupWords)[state];
  return { subject: `[${routerId}] VRRP ${source === 'INSTANCE' ? 'Instance' : 'Group'} ${name} - ${subject}`, body };
}

export interface Mail {
  from: string;
  to: readonly string[];
  subject: string;
  body: string;
  date: Date;
}

// RFC 5322 date in local time, as keepalived's strftime("%a, %d %b %Y %H:%M:%S %z").
function rfc5322Date(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const zone = `${offset >= 0 ? '+' : '-'}${two(Math.floor(Math.abs(offset) / 60))}${two(Math.abs(offset) % 60)}`;
  return `${days[d.getDay()]}, ${two(d.getDate())} ${months[d.getMonth()]} ${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}`;
}

/** The DATA section up to and including the terminating dot, CRLF line ends, dot-stuffed. */
export function mailData(mail: Mail): string {
  const headers = [`Date: ${rfc5322Date(mail.date)}`, `From: ${mail.from}`, `Subject: ${mail.subject}`, 'X-Mailer: ipvsd', `To: ${mail.to.join(', ')}`];
  const body = mail.body.split(/\r?\n/).map((line) => (line.startsWith('.') ? `.${line}` : line));
  return `${[...headers, '', ...body].join('\r\n')}\r\n.\r\n`;
}

export interface SmtpServer {
  host: string;
  port: number;
  /** Bounds the connect and each reply, as keepalived's smtp_connect_timeout does. */
  timeoutMs: number;
  heloName: string;
}

/** Sends one mail; rejects with SmtpAlertError naming the step and the server's reply. */
export function sendMail(server: SmtpServer, mail: Mail): Promise<void> {
  const where = `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
  return new Promise<void>((resolve, reject) => {
    const socket: Socket = connect({ host: server.host, port: server.port });
    socket.setEncoding('utf8');
    let buffered = '';
    let connected = false;
    // Each step: the command sent (none for the greeting), the reply code wanted, the name used in errors.
    const steps: Array<{ send?: string; want: number; what: string }> = [
      { want: 220, what: 'greeting' },
      { send: `HELO ${server.heloName}\r\n`, want: 250, what: 'HELO' },
      { send: `MAIL FROM:<${mail.from}>\r\n`, want: 250, what: 'MAIL FROM' },
      ...mail.to.map((to) => ({ send: `RCPT TO:<${to}>\r\n`, want: 250, what: `RCPT TO ${to}` })),
      { send: 'DATA\r\n', want: 354, what: 'DATA' },
      { send: mailData(mail), want: 250, what: 'message' },
    ];
    let step = 0;
    let done = false;
    const finish = (err?: SmtpAlertError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) socket.destroy();
      else socket.end('QUIT\r\n');
      if (err) reject(err);
      else resolve();
    };
    let timer = setTimeout(() => finish(new SmtpAlertError('ESMTPTIMEOUT', `SMTP server ${where}: no answer to the connect within ${server.timeoutMs} ms`)), server.timeoutMs);
    const rearm = (what: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new SmtpAlertError('ESMTPTIMEOUT', `SMTP server ${where}: no reply to ${what} within ${server.timeoutMs} ms`)), server.timeoutMs);
    };
    socket.on('connect', () => {
      connected = true;
      rearm('the greeting');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = connected ? 'ESMTPCLOSED' : 'ESMTPCONNECT';
      finish(new SmtpAlertError(code, `SMTP server ${where}: ${connected ? '' : 'cannot connect: '}${err.code ?? err.message}`));
    });
    socket.on('close', () => finish(new SmtpAlertError('ESMTPCLOSED', `SMTP server ${where} closed the connection before ${steps[step]?.what ?? 'QUIT'}`)));
    socket.on('data', (chunk: string) => {
      // The reply to QUIT (or anything after a failure) is not read.
      if (done) return;
      buffered += chunk;
      for (;;) {
        const end = buffered.indexOf('\r\n');
        if (end < 0) return;
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        // "250-..." continues a multi-line reply; only its last line ("250 ...") counts.
        if (line[3] === '-') continue;
        const current = steps[step]!;
        if (Number(line.slice(0, 3)) !== current.want) {
          finish(new SmtpAlertError('ESMTPREPLY', `SMTP server ${where} refused ${current.what}: ${line}`));
          return;
        }
        step++;
        if (step === steps.length) {
          finish();
          return;
        }
        socket.write(steps[step]!.send!);
        rearm(steps[step]!.what);
      }
    });
  });
}

/** Where alert mails go, from global_defs; undefined without a server or a recipient (keepalived sends nothing then). */
export interface AlertRecipients {
  server: SmtpServer;
  from: string;
  to: readonly string[];
  /** The `[router_id]` every subject starts with. */
  routerId: string;
}

export function alertRecipients(config: KeepalivedConfig, hostname: string): AlertRecipients | undefined {
  const g = config.globalDefs;
  if (!g.smtpServer || g.notificationEmail.length === 0) return undefined;
  return {
    server: { host: g.smtpServer.address, port: g.smtpServer.port, timeoutMs: g.smtpConnectTimeoutMs, heloName: g.smtpHeloName || hostname },
    from: g.notificationEmailFrom || `keepalived@${hostname}`,
    to: g.notificationEmail,
    routerId: g.routerId || hostname,
  };
}

/** Sends mails one after another beside the caller, which never waits; each outcome goes to a callback. */
export class AlertMailer {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly recipients: AlertRecipients,
    private readonly now: () => Date = () => new Date(),
  ) {}

  send(subject: string, body: string, onSent: (error?: SmtpAlertError) => void): void {
    const { server, from, to } = this.recipients;
    const mail: Mail = { from, to, subject, body, date: this.now() };
    this.queue = this.queue.then(() =>
      sendMail(server, mail)
        .then(
          () => onSent(),
          (error: SmtpAlertError) => onSent(error),
        )
        .catch(() => {
          // onSent is the caller's; a throw there must not stop later mails
        }),
    );
  }

  /** Resolves when every queued mail was sent or failed, or after `limitMs` (a stop waits for the last mails, not for a dead server). */
  idle(limitMs = Infinity): Promise<void> {
    if (!Number.isFinite(limitMs)) return this.queue;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, limitMs);
      void this.queue.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

export interface SmtpAlertOutcome {
  source: AlertSource;
  name: string;
  state: NotifyState;
  subject: string;
  error?: SmtpAlertError;
}

/**
 * Sends the alert for each transition of an instance or group whose `smtp_alert` is on, once per
 * state (keepalived's last_email_state), in order. Built only when `smtp_server` and at least one
 * `notification_email` are set: without them keepalived sends nothing either.
 */
export class SmtpAlert {
  private readonly enabled: ReadonlySet<string>;
  private readonly lastState = new Map<string, NotifyState>();

  private constructor(
    private readonly mailer: AlertMailer,
    enabled: Iterable<string>,
    private readonly onOutcome: (outcome: SmtpAlertOutcome) => void,
  ) {
    this.enabled = new Set(enabled);
  }

  /** undefined when no mail can or should be sent (no server, no recipient, or no smtp_alert anywhere). */
  static fromConfig(config: KeepalivedConfig, hostname: string, onOutcome: (outcome: SmtpAlertOutcome) => void = () => {}, now: () => Date = () => new Date()): SmtpAlert | undefined {
    const recipients = alertRecipients(config, hostname);
    if (!recipients) return undefined;
    const enabled = [
      ...config.vrrpInstances.filter((i) => i.smtpAlert).map((i) => key('INSTANCE', i.name)),
      ...config.vrrpSyncGroups.filter((s) => s.smtpAlert).map((s) => key('GROUP', s.name)),
    ];
    if (enabled.length === 0) return undefined;
    return new SmtpAlert(new AlertMailer(recipients, now), enabled, onOutcome);
  }

  /** A transition; ignored unless smtp_alert is on for it and the state differs from the last one mailed. */
  transition(source: AlertSource, name: string, state: NotifyState): void {
    const k = key(source, name);
    if (!this.enabled.has(k) || this.lastState.get(k) === state) return;
    this.lastState.set(k, state);
    const text = alertText(this.mailer.recipients.routerId, source, name, state);
    this.mailer.send(text.subject, text.body, (error) => this.onOutcome({ source, name, state, subject: text.subject, ...(error && { error }) }));
  }

  /** Resolves when every queued mail was sent or failed, or after `limitMs` (a stop waits for the STOP mail, not for a dead server). */
  idle(limitMs = Infinity): Promise<void> {
    return this.mailer.idle(limitMs);
  }
}

const key = (source: AlertSource, name: string) => `${source} ${name}`;
