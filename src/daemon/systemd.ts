// sd_notify(3) without libsystemd: datagrams to $NOTIFY_SOCKET (AF_UNIX, which node:dgram cannot
// open, so through the native addon), and the watchdog ping, sent only while the event loop keeps
// time, so a stuck loop lets systemd restart ipvsd (WatchdogSec= in the unit).
import { monotonicClock, type Clock, type TimerHandle } from '../vrrp/clock.js';
import { NativeSocket, SOCK_DGRAM } from '../native/index.js';

export const AF_UNIX = 1;
/** sizeof(sun_path) in struct sockaddr_un. */
const SUN_PATH_SIZE = 108;

export class SystemdNotifyError extends Error {
  constructor(
    readonly code: 'ENOTIFYSOCKET' | 'EWATCHDOGUSEC',
    message: string,
  ) {
    super(message);
    this.name = 'SystemdNotifyError';
  }
}

/** struct sockaddr_un for a path, or for the abstract namespace when it starts with `@`. */
export function sockaddrUnix(path: string): Buffer {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? path.slice(1) : path, 'utf8');
  // A filesystem path needs its terminating NUL inside sun_path; an abstract name has a leading one.
  if (name.length === 0 || name.length + 1 > SUN_PATH_SIZE || (!abstract && !path.startsWith('/'))) {
    throw new SystemdNotifyError('ENOTIFYSOCKET', `NOTIFY_SOCKET "${path}" is not an absolute path or @abstract name of at most ${SUN_PATH_SIZE - 1} bytes`);
  }
  const address = Buffer.alloc(2 + 1 + name.length);
  address.writeUInt16LE(AF_UNIX, 0);
  name.copy(address, abstract ? 3 : 2);
  return abstract ? address : address.subarray(0, 2 + name.length + 1);
}

/**
 * The watchdog period systemd asks for, in ms, or undefined when it asks for none or the
 * request is for another process (WATCHDOG_PID names the one process meant to ping).
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = env['WATCHDOG_USEC'];
  if (usec === undefined || usec === '') return undefined;
  if (!/^[0-9]+$/.test(usec) || Number(usec) === 0) {
    throw new SystemdNotifyError('EWATCHDOGUSEC', `WATCHDOG_USEC "${usec}" is not a positive number of microseconds`);
  }
  const owner = env['WATCHDOG_PID'];
  if (owner !== undefined && owner !== '' && Number(owner) !== pid) return undefined;
  return Number(usec) / 1000;
}

export interface SystemdNotifierOptions {
  /** A failed send (systemd gone, queue full) is reported here and never thrown. */
  onError?: (error: Error) => void;
}

export interface WatchdogOptions {
  clock?: Clock;
  /** A ping tick later than this is taken as a stuck loop and sends nothing; default a quarter of the period. */
  maxLagMs?: number;
  /** Told about each ping withheld, with how late its tick was. */
  onSkip?: (lagMs: number) => void;
}

/** Sends sd_notify state lines; one per service lifetime, built from the environment systemd gives. */
export class SystemdNotifier {
  readonly #socket: NativeSocket;
  readonly #address: Buffer;
  readonly #onError: (error: Error) => void;
  readonly #watchdogMs: number | undefined;
  #watchdog: Watchdog | undefined;

  private constructor(socket: NativeSocket, address: Buffer, watchdogMs: number | undefined, options: SystemdNotifierOptions) {
    this.#socket = socket;
    this.#address = address;
    this.#watchdogMs = watchdogMs;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** undefined when not started by systemd with Type=notify (no NOTIFY_SOCKET). */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env, options: SystemdNotifierOptions = {}, pid = process.pid): SystemdNotifier | undefined {
    const path = env['NOTIFY_SOCKET'];
    if (path === undefined || path === '') return undefined;
    const address = sockaddrUnix(path);
    const watchdogMs = watchdogIntervalMs(env, pid);
    return new SystemdNotifier(NativeSocket.open(AF_UNIX, SOCK_DGRAM, 0), address, watchdogMs, options);
  }

  /** The period systemd expects pings within (WatchdogSec), in ms. */
  get watchdogMs(): number | undefined {
    return this.#watchdogMs;
  }

  /** Sends `NAME=value` lines as one datagram; false when the send failed. */
  notify(fields: Record<string, string | number>): boolean {
    const text = Object.entries(fields).map(([k, v]) => `${k}=${v}`).join('\n');
    try {
      this.#socket.send(Buffer.from(text, 'utf8'), this.#address);
      return true;
    } catch (err) {
      this.#onError(err as Error);
      return false;
    }
  }

  ready(status?: string): boolean {
    return this.notify(status === undefined ? { READY: 1 } : { READY: 1, STATUS: status });
  }

  /** Before a reload; ready() after it. MONOTONIC_USEC is what systemd >= 253 pairs the two with. */
  reloading(status?: string): boolean {
    const fields: Record<string, string | number> = { RELOADING: 1, MONOTONIC_USEC: String(process.hrtime.bigint() / 1000n) };
    if (status !== undefined) fields['STATUS'] = status;
    return this.notify(fields);
  }

  stopping(status?: string): boolean {
    this.#watchdog?.stop();
    return this.notify(status === undefined ? { STOPPING: 1 } : { STOPPING: 1, STATUS: status });
  }

  status(text: string): boolean {
    return this.notify({ STATUS: text });
  }

  /** Starts the pings when systemd asked for a watchdog; otherwise returns undefined. */
  startWatchdog(options: WatchdogOptions = {}): Watchdog | undefined {
    if (this.#watchdogMs === undefined) return undefined;
    this.#watchdog?.stop();
    this.#watchdog = new Watchdog(this.#watchdogMs, () => this.notify({ WATCHDOG: 1 }), options);
    return this.#watchdog;
  }

  close(): void {
    this.#watchdog?.stop();
    this.#socket.close();
  }
}

/**
 * Pings every half period from a one-shot timer. Each tick measures how late it fired: a loop
 * that was blocked longer than maxLagMs sends nothing for that tick, so systemd sees the gap.
 */
export class Watchdog {
  readonly #intervalMs: number;
  readonly #maxLagMs: number;
  readonly #ping: () => void;
  readonly #clock: Clock;
  readonly #onSkip: (lagMs: number) => void;
  #due: number;
  #timer: TimerHandle | undefined;
  #stopped = false;
  pings = 0;
  skipped = 0;

  constructor(watchdogMs: number, ping: () => void, options: WatchdogOptions = {}) {
    this.#intervalMs = watchdogMs / 2;
    this.#maxLagMs = options.maxLagMs ?? watchdogMs / 4;
    this.#ping = ping;
    this.#clock = options.clock ?? unrefClock;
    this.#onSkip = options.onSkip ?? (() => undefined);
    // The first ping at once: systemd's countdown started when the process did.
    this.#ping();
    this.pings++;
    this.#due = this.#clock.now() + this.#intervalMs;
    this.#timer = this.#clock.setTimer(this.#tick, this.#intervalMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  readonly #tick = (): void => {
    if (this.#stopped) return;
    const now = this.#clock.now();
    const lag = now - this.#due;
    if (lag > this.#maxLagMs) {
      this.skipped++;
      this.#onSkip(lag);
    } else {
      this.#ping();
      this.pings++;
    }
    this.#due = now + this.#intervalMs;
    this.#timer = this.#clock.setTimer(this.#tick, this.#intervalMs);
  };
}

/** The watchdog's timer must not keep a stopping process alive. */
const unrefClock: Clock = {
  now: monotonicClock.now,
  setTimer: (callback, delayMs) => {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    timer.unref();
    return timer as unknown as TimerHandle;
  },
  clearTimer: monotonicClock.clearTimer,
};
