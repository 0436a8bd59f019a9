// The shared engine of the half-open TCP_CHECK: one raw TCP socket per (family, source, interface,
// mark) sends SYNs in batches and hands each SYN-ACK, RST or ICMP unreachable, matched by the
// acknowledged sequence number, our port and the peer, to its waiter. The kernel answers every
// SYN-ACK with a RST because no socket owns our port, so the server frees the embryonic
// connection and never sees an accept.
import { randomFillSync, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_CHECKSUM,
  IPV6_V6ONLY,
  NativeSocket,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_BINDTODEVICE,
  SO_MARK,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  sockaddrIn,
  type ReceivedDatagram,
} from '../src/native/index.js';
import { icmpFilter } from './pinger.js';
import { SharedBySource } from './shared-by-source.js';
import { SYN_LENGTH, emptyReply, fillChecksum, readQuotedSyn, readReply, writeSyn } from './tcp-segment.js';

export type SynOutcome =
  | { kind: 'open' }
  | { kind: 'refused' }
  | { kind: 'unreachable'; code: number }
  /** `windowMs`: how long the SYN had, from its first send to its deadline. */
  | { kind: 'timeout'; windowMs: number }
  | { kind: 'late' }
  | { kind: 'error'; error: unknown };

export interface SynSource {
  family: 'inet' | 'inet6';
  bindTo: string | undefined;
  bindInterface: string | undefined;
  fwmark: number;
}

/** One probed address and port, parsed once per probe; `sourcePort` 0 takes ports from the reserved block. */
export interface SynTarget {
  readonly address: string;
  readonly port: number;
  readonly sourcePort: number;
  /** Address bytes, compared with each reply's source. */
  readonly peer: Buffer;
  readonly sockaddr: Buffer;
  /** IPv4 only: the route's source address for the checksum. */
  source: RouteSource | undefined;
  cursor: number;
}

/** The address the kernel sends from towards one destination, shared by every target on it. */
interface RouteSource {
  bytes: Buffer;
  learnedAt: number;
}

export class SynProbeError extends Error {
  readonly code = 'ERR_SYN_PROBE';
  override readonly name = 'SynProbeError';
}

interface Waiter {
  key: number;
  target: SynTarget;
  segment: Buffer;
  /** The run's own deadline; the effective one (connect_timeout after the send) is set when it goes out. */
  deadline: number;
  connectTimeoutMs: number;
  sentAt: number;
  /** When the timer must look at it next: the retransmission or the deadline, whichever is first. */
  wakeAt: number;
  /** The next retransmission interval: the kernel's initial SYN RTO, doubled after each. */
  rto: number;
  /** Position in the wake heap, -1 when not in it. */
  slot: number;
  done: (outcome: SynOutcome, elapsedMs: number) => void;
}

/** Ports reserved per prober: each target cycles through them, so a 4-tuple recurs only every this many runs. */
export const PORT_BLOCK = 256;
const INITIAL_RTO_MS = 1000;
/** After a timeout, a source learned longer ago than this is learned again: the route may have changed. */
const SOURCE_RELEARN_MS = 5000;
const MSS = { inet: 1460, inet6: 1440 } as const;
const RECEIVE_BUFFER = 4 << 20;
const RECEIVE = { batch: 256, bufferSize: 96 };
const OPEN: SynOutcome = { kind: 'open' };
const REFUSED: SynOutcome = { kind: 'refused' };
const TOO_LATE: SynOutcome = { kind: 'late' };

/**
 * Where to look for ports the kernel never hands out itself: above, then below,
 * ip_local_port_range. Lazily: a prober takes a few hundred of some 30,000.
 */
export function* portCandidates(range: string): Generator<number> {
  const [low, high] = range.trim().split(/\s+/).map(Number) as [number, number];
  for (let port = high + 1; port <= 65535; port++) yield port;
  for (let port = low - 1; port >= 1024; port--) yield port;
}

function addressBytes(sockaddr: Buffer): Buffer {
  return sockaddr.readUInt16LE(0) === AF_INET ? sockaddr.subarray(4, 8) : sockaddr.subarray(8, 24);
}

/** The matching key: the acknowledged sequence number (32 bits) and our port (16 bits) fit a double exactly. */
function replyKey(ack: number, ourPort: number): number {
  return ack * 0x10000 + ourPort;
}

/** Waiters by wake time, with removal: one Node timer serves them all. */
class WakeHeap {
  readonly #heap: Waiter[] = [];

  get top(): Waiter | undefined {
    return this.#heap[0];
  }

  push(waiter: Waiter): void {
    waiter.slot = this.#heap.length;
    this.#heap.push(waiter);
    this.#up(waiter.slot);
  }

  remove(waiter: Waiter): void {
    const i = waiter.slot;
    if (i < 0) return;
    waiter.slot = -1;
    const last = this.#heap.pop()!;
    if (last === waiter) return;
    this.#heap[i] = last;
    last.slot = i;
    this.#down(i);
    this.#up(last.slot);
  }

  #up(i: number): void {
    const heap = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.wakeAt <= heap[i]!.wakeAt) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const heap = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      let m = i;
      if (l < heap.length && heap[l]!.wakeAt < heap[m]!.wakeAt) m = l;
      if (l + 1 < heap.length && heap[l + 1]!.wakeAt < heap[m]!.wakeAt) m = l + 1;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap;
    const t = heap[a]!;
    heap[a] = heap[b]!;
    heap[b] = t;
    heap[a]!.slot = a;
    heap[b]!.slot = b;
  }
}

/*
 * Clock reads and timers cost a system call each inside a UML guest (~20-40 µs), so the hot path
 * reads the clock once per batch (send, receive, timer), never per probe, and one timer serves
 * every waiter.
 */
export class SynProber {
  readonly #source: SynSource;
  readonly #domain: number;
  #socket: NativeSocket | undefined;
  #icmp: NativeSocket | undefined;
  /** Bound, never listening TCP sockets: the kernel neither uses these ports nor accepts on them. */
  #holders: NativeSocket[] = [];
  #ports: number[] = [];
  readonly #waiting = new Map<number, Waiter>();
  readonly #routes = new Map<string, RouteSource>();
  readonly #wakes = new WakeHeap();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #pending: Waiter[] = [];
  #flushQueued = false;
  readonly #random = Buffer.alloc(4096);
  #randomAt = this.#random.length;
  readonly #reply = emptyReply();
  #users = 0;

  constructor(source: SynSource) {
    this.#source = source;
    this.#domain = source.family === 'inet' ? AF_INET : AF_INET6;
  }

  acquire(): void {
    this.#users++;
  }

  /** Closes the sockets and frees the ports when the last probe lets go; waiting probes fail. */
  release(): void {
    if (--this.#users > 0) return;
    const now = performance.now();
    const closed: SynOutcome = { kind: 'error', error: new SynProbeError('closed while waiting for an answer') };
    for (const waiter of this.#waiting.values()) this.#settle(waiter, closed, now);
    this.#pending = [];
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#socket?.close();
    this.#icmp?.close();
    for (const holder of this.#holders) holder.close();
    this.#socket = this.#icmp = undefined;
    this.#holders = [];
    this.#ports = [];
    this.#routes.clear();
  }

  get users(): number {
    return this.#users;
  }

  target(address: string, port: number, sourcePort = 0): SynTarget {
    const sockaddr = sockaddrIn(address);
    return { address, port, sourcePort, peer: addressBytes(sockaddr), sockaddr, source: undefined, cursor: randomInt(PORT_BLOCK) };
  }

  /**
   * Sends a SYN to `target` with the next batch and reports by `deadline` (performance.now()
   * milliseconds) or `connectTimeoutMs` after the send, whichever is first: 'open' on a SYN-ACK,
   * 'refused' on a RST, 'unreachable' on an ICMP error, 'timeout' otherwise, 'late' when the
   * deadline passed before the SYN went out. The SYN is retransmitted after 1 s, 3 s, ... like
   * the kernel's connect() within the same time. `elapsedMs` counts from the first send.
   */
  syn(target: SynTarget, deadline: number, connectTimeoutMs: number, done: (outcome: SynOutcome, elapsedMs: number) => void): void {
    try {
      this.#open();
      if (this.#source.family === 'inet' && target.source === undefined) target.source = this.#route(target);
    } catch (error) {
      done({ kind: 'error', error }, 0);
      return;
    }
    const ourPort = target.sourcePort !== 0 ? target.sourcePort : this.#ports[target.cursor++ % this.#ports.length]!;
    let isn: number;
    let key: number;
    do {
      isn = this.#nextRandom();
      key = replyKey((isn + 1) >>> 0, ourPort);
    } while (this.#waiting.has(key));
    const segment = Buffer.allocUnsafe(SYN_LENGTH);
    writeSyn(segment, ourPort, target.port, isn, MSS[this.#source.family]);
    // IPv6: the kernel fills in the checksum (IPV6_CHECKSUM) with the source it picks.
    if (target.source !== undefined) fillChecksum(segment, target.source.bytes, target.peer);
    const waiter: Waiter = { key, target, segment, deadline, connectTimeoutMs, sentAt: 0, wakeAt: 0, rto: INITIAL_RTO_MS, slot: -1, done };
    this.#waiting.set(key, waiter);
    this.#pending.push(waiter);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    // After the caller's synchronous work: every probe a scheduler tick starts goes out in one batch.
    queueMicrotask(this.#flush);
  }

  #open(): void {
    if (this.#socket !== undefined) return;
    const { family, bindTo, bindInterface, fwmark } = this.#source;
    const opened: NativeSocket[] = [];
    try {
      const socket = NativeSocket.open(this.#domain, SOCK_RAW, IPPROTO_TCP);
      opened.push(socket);
      const icmp = NativeSocket.open(this.#domain, SOCK_RAW, family === 'inet' ? IPPROTO_ICMP : IPPROTO_ICMPV6);
      opened.push(icmp);
      if (family === 'inet6') socket.setsockopt(IPPROTO_IPV6, IPV6_CHECKSUM, 16);
      icmp.setsockopt(...icmpFilter(family));
      for (const s of [socket, icmp]) {
        if (bindTo !== undefined) s.bind(sockaddrIn(bindTo));
        if (bindInterface !== undefined) s.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(bindInterface + '\0'));
        if (fwmark !== 0) s.setsockopt(SOL_SOCKET, SO_MARK, fwmark);
        s.on('error', () => {});
      }
      // Every TCP segment the host receives is copied here: room for bursts while the loop is busy.
      try {
        socket.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER);
      } catch {
        socket.setsockopt(SOL_SOCKET, SO_RCVBUF, RECEIVE_BUFFER);
      }
      socket.on('messages', this.#receive);
      icmp.on('messages', this.#receiveIcmp);
      // Only the headers matter; IPv4 raw sockets deliver the IP header, so the address is read from it.
      socket.start({ ...RECEIVE, address: family === 'inet6' });
      icmp.start({ batch: 64, bufferSize: 192, address: false });
      // Waiters' timer keeps the process alive; idle shared sockets must not.
      socket.unref();
      icmp.unref();
      this.#reservePorts();
      this.#socket = socket;
      this.#icmp = icmp;
    } catch (error) {
      for (const s of opened) s.close();
      for (const holder of this.#holders) holder.close();
      this.#holders = [];
      this.#ports = [];
      throw error;
    }
  }

  #reservePorts(): void {
    const wildcard = this.#source.family === 'inet' ? '0.0.0.0' : '::';
    for (const port of portCandidates(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'))) {
      if (this.#ports.length === PORT_BLOCK) return;
      const holder = NativeSocket.open(this.#domain, SOCK_STREAM, IPPROTO_TCP);
      try {
        if (this.#source.family === 'inet6') holder.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
        holder.bind(sockaddrIn(wildcard, port));
      } catch (error) {
        holder.close();
        if ((error as { code?: string }).code === 'EADDRINUSE') continue;
        throw error;
      }
      this.#holders.push(holder);
      this.#ports.push(port);
    }
    if (this.#ports.length === 0) throw new SynProbeError('no free TCP port outside ip_local_port_range for half-open probes');
  }

  #route(target: SynTarget): RouteSource {
    let route = this.#routes.get(target.address);
    if (route === undefined) {
      route = { bytes: this.#learnSource(target), learnedAt: performance.now() };
      this.#routes.set(target.address, route);
    }
    return route;
  }

  /** The address the kernel would send from: a connected UDP socket's name (connecting sends nothing). */
  #learnSource(target: SynTarget): Buffer {
    const { bindTo, bindInterface, fwmark } = this.#source;
    if (bindTo !== undefined) return addressBytes(sockaddrIn(bindTo));
    const udp = NativeSocket.open(AF_INET, SOCK_DGRAM, 0);
    try {
      if (bindInterface !== undefined) udp.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(bindInterface + '\0'));
      if (fwmark !== 0) udp.setsockopt(SOL_SOCKET, SO_MARK, fwmark);
      udp.connect(sockaddrIn(target.address, target.port));
      return Buffer.from(addressBytes(udp.getsockname()));
    } finally {
      udp.close();
    }
  }

  #nextRandom(): number {
    if (this.#randomAt === this.#random.length) {
      randomFillSync(this.#random);
      this.#randomAt = 0;
    }
    const value = this.#random.readUInt32BE(this.#randomAt);
    this.#randomAt += 4;
    return value;
  }

  readonly #flush = (): void => {
    this.#flushQueued = false;
    const socket = this.#socket;
    const pending = this.#pending;
    this.#pending = [];
    if (socket === undefined) return;
    const now = performance.now();
    // sendmmsg takes one destination per call: group SYNs by address (ports differ inside a group).
    const groups = new Map<string, Waiter[]>();
    for (const waiter of pending) {
      if (this.#waiting.get(waiter.key) !== waiter) continue;
      if (waiter.sentAt === 0) {
        if (now >= waiter.deadline) {
          this.#settle(waiter, TOO_LATE, now);
          continue;
        }
        waiter.sentAt = now;
        waiter.deadline = Math.min(waiter.deadline, now + waiter.connectTimeoutMs);
        this.#schedule(waiter, now);
      }
      const group = groups.get(waiter.target.address);
      if (group === undefined) groups.set(waiter.target.address, [waiter]);
      else group.push(waiter);
    }
    let retry = false;
    for (const group of groups.values()) {
      let sent = 0;
      try {
        sent = socket.sendMany(
          group.map((w) => w.segment),
          group[0]!.target.sockaddr,
        );
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== 'EAGAIN' && code !== 'ENOBUFS') {
          for (const waiter of group) this.#settle(waiter, { kind: 'error', error }, now);
          continue;
        }
      }
      // The send queue filled: the rest go out with the next batch (their clocks already run).
      if (sent < group.length) {
        this.#pending.push(...group.slice(sent));
        retry = true;
      }
    }
    if (retry && !this.#flushQueued) {
      this.#flushQueued = true;
      setTimeout(this.#flush, 1);
    }
    this.#arm();
  };

  /** Next look at `waiter`: its retransmission or its deadline. */
  #schedule(waiter: Waiter, now: number): void {
    waiter.wakeAt = Math.min(waiter.deadline, now + waiter.rto);
    this.#wakes.push(waiter);
  }

  /** One timer, for the earliest wake; moved only when a waiter needs it sooner. */
  #arm(): void {
    const top = this.#wakes.top;
    if (top === undefined || top.wakeAt >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = top.wakeAt;
    // A fresh clock: a big batch's send may have taken a while since `now` was read.
    this.#timer = setTimeout(this.#wake, Math.max(0, top.wakeAt - performance.now()));
  }

  readonly #wake = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const socket = this.#socket;
    if (socket === undefined) return;
    // Replies queued while the loop was busy must count before anyone times out.
    this.#drain(socket);
    const now = performance.now();
    let resend = false;
    for (let top = this.#wakes.top; top !== undefined && top.wakeAt <= now + 1; top = this.#wakes.top) {
      this.#wakes.remove(top);
      if (now + 1 >= top.deadline) {
        // A changed route can leave a stale source address behind: learn it again next time.
        const route = top.target.source;
        if (route !== undefined && now - route.learnedAt >= SOURCE_RELEARN_MS) {
          if (this.#routes.get(top.target.address) === route) this.#routes.delete(top.target.address);
          top.target.source = undefined;
        }
        this.#settle(top, { kind: 'timeout', windowMs: top.deadline - top.sentAt }, now);
        continue;
      }
      top.rto *= 2;
      this.#schedule(top, now);
      this.#pending.push(top);
      resend = true;
    }
    if (resend && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
    this.#arm();
  };

  #drain(socket: NativeSocket): void {
    const address = this.#source.family === 'inet6';
    for (let round = 0; round < 64; round++) {
      let datagrams: ReceivedDatagram[];
      try {
        datagrams = socket.receive({ ...RECEIVE, address });
      } catch {
        return;
      }
      if (datagrams.length > 0) this.#receive(datagrams);
      if (datagrams.length < RECEIVE.batch) return;
    }
  }

  readonly #receive = (datagrams: ReceivedDatagram[]): void => {
    const reply = this.#reply;
    const inet = this.#source.family === 'inet';
    let now = 0;
    for (const datagram of datagrams) {
      if (!readReply(datagram.data, inet, reply)) continue;
      const waiter = this.#waiting.get(replyKey(reply.ack, reply.ourPort));
      if (waiter === undefined || waiter.target.port !== reply.peerPort) continue;
      const from = inet ? datagram.data : datagram.address;
      if (from === null || waiter.target.peer.compare(from, inet ? 12 : 8, inet ? 16 : 24) !== 0) continue;
      if (now === 0) now = performance.now();
      this.#settle(waiter, reply.kind === 'syn-ack' ? OPEN : REFUSED, now);
    }
  };

  readonly #receiveIcmp = (datagrams: ReceivedDatagram[]): void => {
    for (const datagram of datagrams) {
      const quoted = readQuotedSyn(this.#source.family, datagram.data);
      if (quoted === null) continue;
      const waiter = this.#waiting.get(replyKey(quoted.ack, quoted.ourPort));
      if (waiter === undefined || waiter.target.port !== quoted.peerPort || !waiter.target.peer.equals(quoted.destination)) continue;
      // An unreachable may come from any router on the path, as for connect().
      this.#settle(waiter, { kind: 'unreachable', code: quoted.code }, performance.now());
    }
  };

  #settle(waiter: Waiter, outcome: SynOutcome, now: number): void {
    this.#wakes.remove(waiter);
    this.#waiting.delete(waiter.key);
    waiter.done(outcome, waiter.sentAt === 0 ? 0 : now - waiter.sentAt);
  }
}

const probers = new SharedBySource((source: SynSource) => new SynProber(source));

/** The shared prober for a source; each acquire is paired with one `releaseSynProber`. */
export function acquireSynProber(source: SynSource): SynProber {
  return probers.acquire(source);
}

export function releaseSynProber(source: SynSource, prober: SynProber): void {
  probers.release(source, prober);
}
