// Process events from the kernel's proc connector (NETLINK_CONNECTOR, group CN_IDX_PROC) on the
// project's native socket. The kernel answers the LISTEN request with an acknowledgement; without
// it (no CONFIG_PROC_EVENTS, not the initial PID namespace, no CAP_NET_ADMIN) the source fails
// and the caller polls /proc instead.
import { randomInt } from 'node:crypto';
import {
  AF_NETLINK, NativeSocket, SO_RCVBUF, SO_RCVBUFFORCE, SOCK_DGRAM, SOL_SOCKET, sockaddrNetlink, type ReceivedDatagram,
} from '../native/index.js';
import {
  CN_IDX_PROC, decodeProcEvents, encodeSubscription, NETLINK_CONNECTOR, PROC_CN_MCAST_IGNORE, PROC_CN_MCAST_LISTEN, type ProcEvent,
} from '../netlink/proc-connector.js';
import type { Clock, TimerHandle } from './clock.js';

/** What a process event source tells its user. Events of threads are already filtered out. */
export interface ProcessEventHandlers {
  events(list: readonly ProcEvent[]): void;
  /** Events were dropped (receive queue overrun): the counts must be read again. */
  lost(): void;
  /** The source works: the kernel acknowledged the subscription. */
  confirmed(): void;
  /** The source cannot work; it is closed already. */
  failed(reason: string): void;
}

export interface ProcessEventSource {
  start(handlers: ProcessEventHandlers): void;
  close(): void;
}

const ENOBUFS = 105;
/** The kernel acknowledges at once; a second covers a loaded machine. */
const ACK_TIMEOUT_MS = 1000;
/** Every process event on the host arrives here: room for a burst of a few thousand before any is lost. */
const RECEIVE_BUFFER = 1024 * 1024;

export class ProcConnectorEvents implements ProcessEventSource {
  private socket: NativeSocket | undefined;
  private ackTimer: TimerHandle | undefined;
  private readonly ack = randomInt(1, 0x7fffffff);

  constructor(private readonly clock: Clock) {}

  start(handlers: ProcessEventHandlers): void {
    let socket: NativeSocket;
    try {
      socket = NativeSocket.open(AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR);
    } catch (err) {
      handlers.failed(`cannot open the process events connector: ${(err as Error).message}`);
      return;
    }
    this.socket = socket;
    socket.on('messages', (datagrams: ReceivedDatagram[]) => this.receive(datagrams, handlers));
    socket.on('error', (err: Error & { errno?: number }) => {
      if (err.errno === ENOBUFS) handlers.lost();
      else this.fail(handlers, `process events connector: ${err.message}`);
    });
    try {
      socket.bind(sockaddrNetlink(0, CN_IDX_PROC));
      try {
        socket.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER);
      } catch {
        // Without CAP_NET_ADMIN: as much as rmem_max allows; an overrun only costs a read of /proc.
        socket.setsockopt(SOL_SOCKET, SO_RCVBUF, RECEIVE_BUFFER);
      }
      socket.start({ batch: 64, bufferSize: 8192 });
      socket.unref();
      socket.send(encodeSubscription(PROC_CN_MCAST_LISTEN, 0, this.ack));
    } catch (err) {
      this.fail(handlers, `cannot subscribe to process events: ${(err as Error).message}`);
      return;
    }
    this.ackTimer = this.clock.setTimer(() => {
      this.ackTimer = undefined;
      this.fail(handlers, 'the kernel did not acknowledge the process events subscription (no CONFIG_PROC_EVENTS, or not the initial PID namespace)');
    }, ACK_TIMEOUT_MS);
  }

  close(): void {
    if (this.ackTimer !== undefined) this.clock.clearTimer(this.ackTimer);
    this.ackTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return;
    try {
      // The kernel counts listeners and builds events only while there are some.
      socket.send(encodeSubscription(PROC_CN_MCAST_IGNORE, 0, 0));
    } catch {
      // Closing anyway.
    }
    socket.close();
  }

  private fail(handlers: ProcessEventHandlers, reason: string): void {
    this.close();
    handlers.failed(reason);
  }

  private receive(datagrams: readonly ReceivedDatagram[], handlers: ProcessEventHandlers): void {
    const list: ProcEvent[] = [];
    for (const d of datagrams) {
      // Only the kernel (port id 0) speaks for processes.
      if (d.address && d.address.length >= 8 && d.address.readUInt32LE(4) !== 0) continue;
      if (d.truncated) {
        handlers.lost();
        continue;
      }
      let events: ProcEvent[];
      try {
        events = decodeProcEvents(d.data);
      } catch {
        handlers.lost();
        continue;
      }
      for (const e of events) {
        if (e.kind === 'ack') this.acknowledged(e, handlers);
        else if (e.kind === 'fork' ? e.childPid === e.childTgid : e.pid === e.tgid) list.push(e);
      }
      if (!this.socket) return;
    }
    if (list.length > 0) handlers.events(list);
  }

  private acknowledged(e: Extract<ProcEvent, { kind: 'ack' }>, handlers: ProcessEventHandlers): void {
    // Acknowledgements go to every listener: only ours counts.
    if (this.ackTimer === undefined || e.ack !== this.ack + 1) return;
    this.clock.clearTimer(this.ackTimer);
    this.ackTimer = undefined;
    if (e.error !== 0) this.fail(handlers, `the kernel refused the process events subscription (errno ${e.error})`);
    else handlers.confirmed();
  }
}
