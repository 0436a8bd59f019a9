// What keepalived tells operators about LVS besides the scripts: a line on notify_fifo and
// lvs_notify_fifo for each real-server and quorum transition, and, with smtp_alert, a mail for
// each checker change (with that checker's words) and each quorum change. Neither ever waits:
// FIFO writes are non-blocking and mails are queued beside the daemon.
import type { Checker, Fifo, KeepalivedConfig, RealServer, VirtualServer } from '../config/model.js';
import { realServerFifoLine, virtualServerFifoLine, type NotifyFifo, type NotifyFifos } from '../vrrp/notify-fifo.js';
import type { AlertMailer, SmtpAlertError } from '../vrrp/smtp-alert.js';
import type { LvsEvent } from './lvs-scripts.js';

/** keepalived's FMT_VS: `[10.0.0.1]:tcp:80`, `FWM 5`, `[group]:0`. */
export function lvsServiceName(vs: VirtualServer): string {
  const t = vs.target;
  if (t.kind === 'address') return `[${t.address}]:${vs.protocol ?? 'none'}:${t.port}`;
  if (t.kind === 'fwmark') return `FWM ${t.fwmark}`;
  return `[${t.name}]:0`;
}

/** keepalived's FMT_RS: the real server's address with its virtual server's protocol (`none` for fwmark). */
export function lvsRealServerName(vs: VirtualServer, rs: RealServer): string {
  return `[${rs.address}]:${vs.protocol ?? 'none'}:${rs.port}`;
}

/** Each checker's body in keepalived, for a checker coming up and going down; FILE_CHECK mails nothing. */
const checkerWords: Record<Exclude<Checker['type'], 'FILE_CHECK'>, [string, string]> = {
  TCP_CHECK: ['=> TCP CHECK succeed on service <=', '=> TCP CHECK failed on service <='],
  HTTP_GET: ['=> CHECK succeed on service <=', '=> CHECK failed on service : HTTP/SSL request failed <='],
  SSL_GET: ['=> CHECK succeed on service <=', '=> CHECK failed on service : HTTP/SSL request failed <='],
  DNS_CHECK: ['=> DNS_CHECK: succeed on service <=', '=> DNS_CHECK: failed on service <='],
  PING_CHECK: ['=> ICMP CHECK succeed on service <=', '=> ICMP CHECK failed on service <='],
  UDP_CHECK: ['=> UDP CHECK succeed on service <=', '=> UDP CHECK failed on service <='],
  SMTP_CHECK: ['=> CHECK succeed on service <=', '=> CHECK failed on service <='],
  MISC_CHECK: ['=> MISC CHECK succeeded on service <=', '=> MISC CHECK failed on service <='],
};

export interface MailText {
  subject: string;
  body: string;
}

/**
 * The mail for one checker transition, or undefined when keepalived sends none: FILE_CHECK, or
 * with no_checker_emails a checker change that did not change the server. The subject carries the
 * server's state after the change, which a second checker may keep DOWN.
 */
export function checkerMail(
  routerId: string,
  vs: VirtualServer,
  rs: RealServer,
  checker: Checker,
  change: { checkerUp: boolean; serverAlive: boolean; serverChanged: boolean; timedOut: boolean },
  noCheckerEmails: boolean,
): MailText | undefined {
  if (checker.type === 'FILE_CHECK' || !rs.smtpAlert) return undefined;
  if (noCheckerEmails && !change.serverChanged) return undefined;
  const [up, down] = checkerWords[checker.type];
  const body = change.checkerUp ? up : checker.type === 'MISC_CHECK' && change.timedOut ? '=> MISC CHECK timed out on service <=' : down;
  return { subject: `[${routerId}] Realserver ${lvsRealServerName(vs, rs)} of virtual server ${lvsServiceName(vs)} - ${change.serverAlive ? 'UP' : 'DOWN'}`, body };
}

/** A real server taken out by a reload ("Removing") or the stop ("Shutting down"). */
function removedServerMail(routerId: string, vs: VirtualServer, rs: RealServer, stopping: boolean): MailText {
  return {
    subject: `[${routerId}] Realserver ${lvsRealServerName(vs, rs)} of virtual server ${lvsServiceName(vs)} - DOWN`,
    body: stopping ? '=> Shutting down <=' : '=> Removing <=',
  };
}

export interface QuorumChange {
  up: boolean;
  /** Reported at start rather than changed. */
  initial: boolean;
  stopping: boolean;
  /** Sum of the alive servers' weights, and the threshold it was compared with. */
  weight: number;
  threshold: number;
}

/** keepalived's quorum mail: `=> Gained quorum 3+1=4 <= 5 <=` (quorum+hysteresis=threshold <= weight). */
export function quorumMail(routerId: string, vs: VirtualServer, change: QuorumChange): MailText {
  const what = change.up ? (change.initial ? 'Starting with quorum up' : 'Gained quorum') : change.initial ? 'Starting with quorum down' : 'Lost quorum';
  return {
    subject: `[${routerId}] Virtualserver ${lvsServiceName(vs)} - ${change.up ? 'UP' : 'DOWN'}`,
    body: change.stopping ? '=> Shutting down <=' : `=> ${what} ${vs.quorum}+${vs.hysteresis}=${change.threshold} <= ${change.weight} <=`,
  };
}

export interface LvsNotifyOutcome {
  subject: string;
  error?: SmtpAlertError;
}

/** The FIFOs that get LVS lines: notify_fifo and lvs_notify_fifo, once if they name the same path. */
function lvsFifos(config: KeepalivedConfig): Fifo[] {
  const fifos = [config.globalDefs.notifyFifo, config.globalDefs.lvsNotifyFifo].filter((f): f is Fifo => f !== undefined);
  return fifos.filter((f, i) => fifos.findIndex((g) => g.path === f.path) === i);
}

export class LvsNotifications {
  readonly #fifos: NotifyFifo[];
  readonly #mailer: AlertMailer | undefined;
  readonly #noCheckerEmails: boolean;
  readonly #onMail: (outcome: LvsNotifyOutcome) => void;

  private constructor(fifos: NotifyFifo[], mailer: AlertMailer | undefined, noCheckerEmails: boolean, onMail: (outcome: LvsNotifyOutcome) => void) {
    this.#fifos = fifos;
    this.#mailer = mailer;
    this.#noCheckerEmails = noCheckerEmails;
    this.#onMail = onMail;
  }

  /** Opens the configuration's LVS FIFOs through `shared` (so VRRP writes to the same ones). */
  static open(config: KeepalivedConfig, shared: NotifyFifos, mailer: AlertMailer | undefined, onMail: (outcome: LvsNotifyOutcome) => void = () => {}): LvsNotifications {
    const opened: NotifyFifo[] = [];
    try {
      for (const fifo of lvsFifos(config)) opened.push(shared.open(fifo));
    } catch (err) {
      for (const f of opened) f.close();
      throw err;
    }
    return new LvsNotifications(opened, mailer, config.globalDefs.noCheckerEmails, onMail);
  }

  /** A real server's or a quorum's transition: its FIFO line, and the mail keepalived sends for it. */
  event(event: LvsEvent, quorum: Partial<Omit<QuorumChange, 'up'>> = {}): void {
    const vs = event.pool.virtualServer;
    if (event.kind === 'real-server') {
      this.#write(realServerFifoLine(lvsRealServerName(vs, event.realServer), lvsServiceName(vs), event.up));
      // Checks mail their own changes; a removal mails here.
      if (event.removed && event.realServer.smtpAlert) this.#mail(removedServerMail(this.#routerId, vs, event.realServer, quorum.stopping ?? false));
      return;
    }
    this.#write(virtualServerFifoLine(lvsServiceName(vs), event.up));
    if (vs.smtpAlert) {
      const state = event.pool.state;
      this.#mail(quorumMail(this.#routerId, vs, { up: event.up, initial: false, stopping: false, weight: state.liveWeight(), threshold: event.up ? vs.quorum + vs.hysteresis : vs.quorum - vs.hysteresis, ...quorum }));
    }
  }

  /** A checker came up or went down (`serverChanged`: its real server did too). */
  checker(vs: VirtualServer, rs: RealServer, checker: Checker, change: Parameters<typeof checkerMail>[4]): void {
    if (!this.#mailer) return;
    const mail = checkerMail(this.#routerId, vs, rs, checker, change, this.#noCheckerEmails);
    if (mail) this.#mail(mail);
  }

  /** Waits for queued mails, at most `limitMs`. */
  async idle(limitMs: number): Promise<void> {
    await this.#mailer?.idle(limitMs);
  }

  close(): void {
    for (const f of this.#fifos) f.close();
  }

  get #routerId(): string {
    return this.#mailer?.recipients.routerId ?? '';
  }

  #write(line: string): void {
    for (const f of this.#fifos) f.write(line);
  }

  #mail(text: MailText): void {
    this.#mailer?.send(text.subject, text.body, (error) => this.#onMail({ subject: text.subject, ...(error && { error }) }));
  }
}
