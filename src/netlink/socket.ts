// A netlink socket that speaks in requests: sequence numbers, ACK and error matching, multi-part
// dumps, and batches of many messages per sendmsg. Reply handling is pure over a NetlinkTransport.
import { EventEmitter } from 'node:events';
import { align } from './attributes.js';
import {
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_MIN_TYPE,
} from './constants.js';
import {
  DumpInterruptedError,
  NetlinkClosedError,
  NetlinkError,
  NetlinkNoReplyError,
  NetlinkParseError,
} from './errors.js';
import { decodeError, decodeMessages, encodeHeader, type NetlinkMessage } from './message.js';
import { openNativeTransport } from './native-transport.js';
import type { NetlinkDatagram, NetlinkReceiver, NetlinkTransport } from './transport.js';

export type { NetlinkMessage } from './message.js';

export interface NetlinkRequest {
  type: number;
  flags?: number;
  payload: Buffer | readonly Buffer[];
}

export interface BatchOptions {
  ack: 'each' | 'last';
  /** Messages per sendmsg, default 256. */
  perSend?: number;
  /** Sends whose answers are still awaited, default 4. */
  window?: number;
}

export interface BatchResult {
  errors: { index: number; error: NetlinkError }[];
}

export interface NetlinkSocketOptions {
  /** Multicast groups to join (RTNLGRP_* style numbers); their messages are emitted as 'notification'. */
  groups?: readonly number[];
  /** Bytes; forced past rmem_max when the process may (CAP_NET_ADMIN). */
  receiveBufferSize?: number;
}

const DEFAULT_PER_SEND = 256;
const DEFAULT_WINDOW = 4;

/** A request or dump waiting for its ACK, error or NLMSG_DONE. */
interface Exchange {
  kind: 'exchange';
  dump: boolean;
  replies: NetlinkMessage[];
  interrupted: boolean;
  resolve(replies: NetlinkMessage[]): void;
  reject(error: Error): void;
}

interface BatchRun {
  requests: readonly NetlinkRequest[];
  ackEach: boolean;
  perSend: number;
  window: number;
  next: number;
  inFlight: number;
  errors: { index: number; error: NetlinkError }[];
  settled: boolean;
  resolve(result: BatchResult): void;
  reject(error: Error): void;
}

/** The messages of one sendmsg of a batch. */
interface BatchSend {
  run: BatchRun;
  seqs: number[];
  /** ACKs (or errors) still expected before the send is settled. */
  outstanding: number;
}

interface BatchEntry {
  kind: 'batch';
  send: BatchSend;
  index: number;
  /** Its ACK or error counts towards settling the send. */
  settles: boolean;
}

type Pending = Exchange | BatchEntry;

interface QueuedDump {
  req: NetlinkRequest;
  resolve(replies: NetlinkMessage[]): void;
  reject(error: Error): void;
}

function payloadParts(payload: Buffer | readonly Buffer[]): readonly Buffer[] {
  return Buffer.isBuffer(payload) ? [payload] : payload;
}

function messageLength(req: NetlinkRequest): number {
  let length = NLMSG_HDRLEN;
  for (const part of payloadParts(req.payload)) length += part.length;
  return length;
}

function asNetlinkError(err: unknown): NetlinkError {
  if (err instanceof NetlinkError) return err;
  const errno = (err as { errno?: unknown } | null)?.errno;
  return new NetlinkError(typeof errno === 'number' && errno > 0 ? errno : 5 /* EIO */);
}

export class NetlinkSocket extends EventEmitter implements NetlinkReceiver {
  private readonly pending = new Map<number, Pending>();
  private readonly runs = new Set<BatchRun>();
  private readonly dumpQueue: QueuedDump[] = [];
  private dumpRunning = false;
  private seq = 0;
  private closed = false;
  private receiving = false;

  /** `notifications`: the transport is subscribed to multicast groups. */
  constructor(
    private readonly transport: NetlinkTransport,
    private readonly notifications = false,
  ) {
    super();
    transport.attach(this);
    this.updateReceiving();
  }

  static open(protocol: number, options: NetlinkSocketOptions = {}): NetlinkSocket {
    const transport = openNativeTransport(protocol, options);
    return new NetlinkSocket(transport, (options.groups?.length ?? 0) > 0);
  }

  /** Adds NLM_F_REQUEST|NLM_F_ACK; resolves with the data replies once the ACK arrives. */
  request(req: NetlinkRequest): Promise<NetlinkMessage[]> {
    return this.exchange(req, NLM_F_REQUEST | NLM_F_ACK | (req.flags ?? 0), false);
  }

  /**
   * NLM_F_DUMP; resolves with every part once NLMSG_DONE arrives. The kernel runs one dump per
   * socket at a time (EBUSY otherwise), so dumps wait here for the one before them.
   */
  dump(req: NetlinkRequest): Promise<NetlinkMessage[]> {
    return new Promise<NetlinkMessage[]>((resolve, reject) => {
      this.dumpQueue.push({ req, resolve, reject });
      this.startNextDump();
    });
  }

  /**
   * Sends, then reads what the kernel queued during the send: kernel netlink handlers answer
   * inside sendmsg, so no event-loop turn is needed.
   */
  requestSync(req: NetlinkRequest): NetlinkMessage[] {
    const flags = NLM_F_REQUEST | NLM_F_ACK | (req.flags ?? 0);
    let outcome: { replies: NetlinkMessage[] } | { error: Error } | undefined;
    const seq = this.begin(req, flags, (flags & NLM_F_DUMP) === NLM_F_DUMP, {
      resolve: (replies) => (outcome = { replies }),
      reject: (error) => (outcome = { error }),
    });
    while (!outcome) {
      const datagrams = this.transport.receiveNow();
      if (datagrams.length === 0) break;
      this.deliver(datagrams);
    }
    if (!outcome) {
      this.pending.delete(seq);
      this.updateReceiving();
      throw new NetlinkNoReplyError(`no answer was queued for message type ${req.type}; use request() for it`);
    }
    if ('error' in outcome) throw outcome.error;
    return outcome.replies;
  }

  batch(requests: readonly NetlinkRequest[], options: BatchOptions): Promise<BatchResult> {
    if (this.closed) return Promise.reject(new NetlinkClosedError('the netlink socket is closed'));
    const window = Math.max(1, options.window ?? DEFAULT_WINDOW);
    // Everything in flight must fit the receive buffer at once: the kernel answers during sendmsg.
    const fitting = Math.floor(this.transport.maxRepliesQueued / window);
    const perSend = Math.max(1, Math.min(options.perSend ?? DEFAULT_PER_SEND, fitting));
    return new Promise<BatchResult>((resolve, reject) => {
      const run: BatchRun = {
        requests,
        ackEach: options.ack === 'each',
        perSend,
        window,
        next: 0,
        inFlight: 0,
        errors: [],
        settled: false,
        resolve,
        reject,
      };
      this.runs.add(run);
      this.pump(run);
    });
  }

  /** Rejects whatever is pending with NetlinkClosedError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
    this.rejectAll(new NetlinkClosedError());
  }

  deliver(datagrams: readonly NetlinkDatagram[]): void {
    for (const datagram of datagrams) {
      if (this.closed) return;
      if (datagram.truncated) {
        this.fail(new NetlinkParseError('a netlink datagram did not fit the receive buffer; replies were lost'));
        continue;
      }
      try {
        for (const message of decodeMessages(datagram.data)) this.dispatch(message, datagram.multicast);
      } catch (err) {
        // A reply we cannot read may have been the one someone awaits.
        this.fail(err as Error);
      }
    }
    this.updateReceiving();
  }

  /** Replies may be lost: every pending request is rejected, and the socket stays usable. */
  fail(error: Error): void {
    this.rejectAll(error);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private dispatch(message: NetlinkMessage, multicast: boolean): void {
    if (multicast || (this.notifications && message.seq === 0)) {
      if (this.notifications) this.emit('notification', message);
      return;
    }
    const pending = this.pending.get(message.seq);
    if (!pending) return;
    if (pending.kind === 'exchange') this.onExchangeMessage(message, pending);
    else this.onBatchMessage(message, pending);
  }

  private onExchangeMessage(message: NetlinkMessage, exchange: Exchange): void {
    if (message.flags & NLM_F_DUMP_INTR) exchange.interrupted = true;
    if (message.type === NLMSG_ERROR) {
      this.pending.delete(message.seq);
      const { errno, kernelMessage } = decodeError(message);
      if (errno !== 0) exchange.reject(new NetlinkError(errno, kernelMessage));
      else if (exchange.interrupted) exchange.reject(new DumpInterruptedError());
      else exchange.resolve(exchange.replies);
    } else if (message.type === NLMSG_DONE && exchange.dump) {
      this.pending.delete(message.seq);
      // A dump that failed part-way ends with a negative errno in NLMSG_DONE.
      const status = message.payload.length >= 4 ? message.payload.readInt32LE(0) : 0;
      if (status < 0) exchange.reject(new NetlinkError(-status));
      else if (exchange.interrupted) exchange.reject(new DumpInterruptedError());
      else exchange.resolve(exchange.replies);
    } else if (message.type >= NLMSG_MIN_TYPE) {
      exchange.replies.push(message);
    }
  }

  private onBatchMessage(message: NetlinkMessage, entry: BatchEntry): void {
    // Data replies (a batch of GETs) are not collected: a batch reports only failures.
    if (message.type !== NLMSG_ERROR) return;
    this.pending.delete(message.seq);
    const { send } = entry;
    const { errno, kernelMessage } = decodeError(message);
    if (errno !== 0) send.run.errors.push({ index: entry.index, error: new NetlinkError(errno, kernelMessage) });
    if (!entry.settles || --send.outstanding > 0) return;
    // The kernel handles one send's messages in order: no more answers can come for it.
    for (const seq of send.seqs) this.pending.delete(seq);
    send.run.inFlight--;
    this.pump(send.run);
  }

  private exchange(req: NetlinkRequest, flags: number, dump: boolean): Promise<NetlinkMessage[]> {
    return new Promise<NetlinkMessage[]>((resolve, reject) => {
      try {
        this.begin(req, flags, dump, { resolve, reject });
      } catch (err) {
        reject(err);
      }
    });
  }

  private startNextDump(): void {
    if (this.dumpRunning) return;
    const next = this.dumpQueue.shift();
    if (!next) return;
    this.dumpRunning = true;
    const finished = (): void => {
      this.dumpRunning = false;
      this.startNextDump();
    };
    this.exchange(next.req, NLM_F_REQUEST | NLM_F_DUMP | (next.req.flags ?? 0), true).then(
      (replies) => {
        finished();
        next.resolve(replies);
      },
      (error: Error) => {
        finished();
        next.reject(error);
      },
    );
  }

  /** Registers an exchange and sends its message; returns its seq. */
  private begin(
    req: NetlinkRequest,
    flags: number,
    dump: boolean,
    settle: { resolve(replies: NetlinkMessage[]): void; reject(error: Error): void },
  ): number {
    if (this.closed) throw new NetlinkClosedError('the netlink socket is closed');
    const seq = this.nextSeq();
    this.pending.set(seq, { kind: 'exchange', dump, replies: [], interrupted: false, ...settle });
    try {
      this.transport.send(this.frame(req, flags, seq));
    } catch (err) {
      this.pending.delete(seq);
      throw asNetlinkError(err);
    }
    this.updateReceiving();
    return seq;
  }

  private pump(run: BatchRun): void {
    if (run.settled) return;
    while (run.inFlight < run.window && run.next < run.requests.length && !this.closed) this.sendChunk(run);
    if (run.inFlight === 0 && run.next >= run.requests.length) {
      run.settled = true;
      this.runs.delete(run);
      run.errors.sort((a, b) => a.index - b.index);
      run.resolve({ errors: run.errors });
    }
    this.updateReceiving();
  }

  private sendChunk(run: BatchRun): void {
    const first = run.next;
    let end = first;
    let bytes = 0;
    let parts = 0;
    while (end < run.requests.length && end - first < run.perSend) {
      const req = run.requests[end]!;
      const length = align(messageLength(req));
      // Each message goes out as one contiguous iovec, so the iovec limit caps messages, not parts.
      const fits = bytes + length <= this.transport.maxSendBytes && parts + 1 <= this.transport.maxSendParts;
      if (!fits && end > first) break;
      bytes += length;
      parts += 1;
      end++;
    }
    run.next = end;
    const send: BatchSend = { run, seqs: [], outstanding: run.ackEach ? end - first : 1 };
    const iovecs: Buffer[] = [];
    for (let index = first; index < end; index++) {
      const settles = run.ackEach || index === end - 1;
      const req = run.requests[index]!;
      const seq = this.nextSeq();
      send.seqs.push(seq);
      this.pending.set(seq, { kind: 'batch', send, index, settles });
      const flags = NLM_F_REQUEST | (settles ? NLM_F_ACK : 0) | (req.flags ?? 0);
      iovecs.push(Buffer.concat(this.frame(req, flags, seq)));
    }
    try {
      this.transport.send(iovecs);
      run.inFlight++;
    } catch (err) {
      const error = asNetlinkError(err);
      for (const seq of send.seqs) this.pending.delete(seq);
      for (let index = first; index < end; index++) run.errors.push({ index, error });
    }
  }

  /** Header, payload parts, and padding so the next message starts aligned. */
  private frame(req: NetlinkRequest, flags: number, seq: number): Buffer[] {
    const payload = payloadParts(req.payload);
    const length = messageLength(req);
    const parts = [encodeHeader(length, req.type, flags, seq), ...payload];
    if (align(length) !== length) parts.push(Buffer.alloc(align(length) - length));
    return parts;
  }

  private nextSeq(): number {
    // Seq 0 marks notifications; skip numbers still awaited after a wrap.
    do this.seq = (this.seq + 1) >>> 0;
    while (this.seq === 0 || this.pending.has(this.seq));
    return this.seq;
  }

  private rejectAll(error: Error): void {
    const exchanges = [...this.pending.values()].filter((p): p is Exchange => p.kind === 'exchange');
    const runs = [...this.runs];
    const queuedDumps = this.dumpQueue.splice(0);
    this.pending.clear();
    this.runs.clear();
    for (const dump of queuedDumps) dump.reject(error);
    for (const exchange of exchanges) exchange.reject(error);
    for (const run of runs) {
      run.settled = true;
      run.reject(error);
    }
    this.updateReceiving();
  }

  /** Watch the socket only while answers are awaited (or notifications wanted), so idle sockets let the process exit. */
  private updateReceiving(): void {
    const wanted = !this.closed && (this.notifications || this.pending.size > 0);
    if (wanted !== this.receiving) {
      this.receiving = wanted;
      if (!this.closed) this.transport.setReceiving(wanted);
    }
  }
}
