// One raw ICMP socket per (family, source, interface, mark), shared by every ping probe: it sends
// echo requests and hands each reply, matched by identifier, sequence and source, to its waiter.
import { randomInt } from 'node:crypto';
import {
  AF_INET,
  AF_INET6,
  ICMP6_FILTER,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  NativeSocket,
  SOCK_RAW,
  SOL_ICMPV6,
  SOL_SOCKET,
  SO_BINDTODEVICE,
  SO_MARK,
  sockaddrIn,
  type ReceivedDatagram,
} from '../src/native/index.js';
import { encodeEchoRequest, parseIcmp, type IcmpFamily } from './icmp.js';
import { SharedBySource } from './shared-by-source.js';

export type EchoOutcome = { kind: 'reply' } | { kind: 'unreachable'; code: number } | { kind: 'timeout' } | { kind: 'error'; error: unknown };

export interface PingSource {
  family: IcmpFamily;
  bindTo: string | undefined;
  bindInterface: string | undefined;
  fwmark: number;
}

interface Waiter {
  /** Address bytes of the target, compared with the reply's source. */
  target: Buffer;
  timer: NodeJS.Timeout;
  done: (outcome: EchoOutcome) => void;
}

// <linux/icmp.h>: a raw ICMP socket drops the types whose bit is set in this 32-bit mask.
const SOL_RAW = 255;
const ICMP_FILTER = 1;
const ECHO_REPLY_V4 = 0;
const UNREACHABLE_V4 = 3;
const ECHO_REPLY_V6 = 129;
const UNREACHABLE_V6 = 1;

/** Kernel-side filters so the shared socket wakes only for echo replies and unreachables. */
export function icmpFilter(family: IcmpFamily): [level: number, name: number, value: Buffer | number] {
  if (family === 'inet') return [SOL_RAW, ICMP_FILTER, ~((1 << ECHO_REPLY_V4) | (1 << UNREACHABLE_V4)) | 0];
  // struct icmp6_filter: 256 bits, set = block.
  const filter = Buffer.alloc(32, 0xff);
  for (const type of [ECHO_REPLY_V6, UNREACHABLE_V6]) {
    const word = type >> 5;
    filter.writeUInt32LE((filter.readUInt32LE(word * 4) & ~(1 << (type & 31))) >>> 0, word * 4);
  }
  return [SOL_ICMPV6, ICMP6_FILTER, filter];
}

const PAYLOAD = Buffer.from('ipvsd health check ping........'); // 32 bytes, like many pingers' minimum

function addressBytes(family: IcmpFamily, sockaddr: Buffer): Buffer {
  return family === 'inet' ? sockaddr.subarray(4, 8) : sockaddr.subarray(8, 24);
}

export class Pinger {
  readonly #source: PingSource;
  readonly #id = randomInt(0x10000);
  #seq = randomInt(0x10000);
  #socket: NativeSocket | undefined;
  readonly #waiting = new Map<number, Waiter>();
  #users = 0;

  constructor(source: PingSource) {
    this.#source = source;
  }

  acquire(): void {
    this.#users++;
  }

  /** Closes the socket when the last probe lets go; waiting echoes fail. */
  release(): void {
    if (--this.#users > 0) return;
    for (const [seq, waiter] of this.#waiting) this.#settle(seq, waiter, { kind: 'timeout' });
    this.#socket?.close();
    this.#socket = undefined;
  }

  get users(): number {
    return this.#users;
  }

  /** Sends one echo request to `address` and reports the outcome within `timeoutMs`. */
  echo(address: string, timeoutMs: number, done: (outcome: EchoOutcome) => void): void {
    let socket: NativeSocket;
    let destination: Buffer;
    try {
      socket = this.#open();
      destination = sockaddrIn(address);
    } catch (error) {
      done({ kind: 'error', error });
      return;
    }
    let seq = this.#seq;
    // Skip sequence numbers still waiting (only after 65536 echoes in flight).
    for (let n = 0; this.#waiting.has(seq) && n < 0x10000; n++) seq = (seq + 1) & 0xffff;
    this.#seq = (seq + 1) & 0xffff;
    try {
      socket.send(encodeEchoRequest(this.#source.family, this.#id, seq, PAYLOAD), destination);
    } catch (error) {
      done({ kind: 'error', error });
      return;
    }
    const timer = setTimeout(() => this.#settle(seq, this.#waiting.get(seq)!, { kind: 'timeout' }), timeoutMs);
    this.#waiting.set(seq, { target: addressBytes(this.#source.family, destination), timer, done });
  }

  #open(): NativeSocket {
    if (this.#socket !== undefined) return this.#socket;
    const { family, bindTo, bindInterface, fwmark } = this.#source;
    const socket = NativeSocket.open(family === 'inet' ? AF_INET : AF_INET6, SOCK_RAW, family === 'inet' ? IPPROTO_ICMP : IPPROTO_ICMPV6);
    try {
      socket.setsockopt(...icmpFilter(family));
      if (bindTo !== undefined) socket.bind(sockaddrIn(bindTo));
      if (bindInterface !== undefined) socket.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(bindInterface + '\0'));
      if (fwmark !== 0) socket.setsockopt(SOL_SOCKET, SO_MARK, fwmark);
      socket.on('messages', this.#receive);
      socket.on('error', () => {});
      socket.start({ address: true, bufferSize: 1500 });
      // Waiters' timers keep the process alive; an idle shared socket must not.
      socket.unref();
    } catch (error) {
      socket.close();
      throw error;
    }
    this.#socket = socket;
    return socket;
  }

  readonly #receive = (datagrams: ReceivedDatagram[]): void => {
    for (const datagram of datagrams) {
      const message = parseIcmp(this.#source.family, datagram.data);
      if (message === null || message.id !== this.#id) continue;
      const waiter = this.#waiting.get(message.seq);
      if (waiter === undefined) continue;
      if (message.kind === 'reply') {
        // A reply must come from the target; an unreachable error may come from any router.
        if (datagram.address === null || !addressBytes(this.#source.family, datagram.address).equals(waiter.target)) continue;
        this.#settle(message.seq, waiter, { kind: 'reply' });
      } else {
        this.#settle(message.seq, waiter, { kind: 'unreachable', code: message.code });
      }
    }
  };

  #settle(seq: number, waiter: Waiter, outcome: EchoOutcome): void {
    clearTimeout(waiter.timer);
    this.#waiting.delete(seq);
    waiter.done(outcome);
  }
}

const pingers = new SharedBySource((source: PingSource) => new Pinger(source));

/** The shared pinger for a source; each acquire is paired with one `releasePinger`. */
export function acquirePinger(source: PingSource): Pinger {
  return pingers.acquire(source);
}

export function releasePinger(source: PingSource, pinger: Pinger): void {
  pingers.release(source, pinger);
}
