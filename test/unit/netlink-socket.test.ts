import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { stringAttr, u32Attr } from '../../src/netlink/attributes.js';
import {
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSGERR_ATTR_MSG,
} from '../../src/netlink/constants.js';
import {
  DumpInterruptedError,
  NetlinkClosedError,
  NetlinkError,
  NetlinkNoReplyError,
  NetlinkParseError,
} from '../../src/netlink/errors.js';
import { decodeMessages, encodeHeader, type NetlinkMessage } from '../../src/netlink/message.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import type { NetlinkDatagram, NetlinkReceiver, NetlinkTransport } from '../../src/netlink/transport.js';

const PID = 4242;
const DATA_TYPE = 0x20;

function raw(type: number, flags: number, seq: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const length = 16 + payload.length;
  const pad = Buffer.alloc((4 - (length % 4)) % 4);
  return Buffer.concat([encodeHeader(length, type, flags, seq, PID), payload, pad]);
}

/** NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK: error code and the request's header. */
function errorFor(request: NetlinkMessage, errno: number, kernelText?: string): Buffer {
  const code = Buffer.alloc(4);
  code.writeInt32LE(-errno, 0);
  const echo = encodeHeader(16 + request.payload.length, request.type, request.flags, request.seq, 0);
  const tlvs = kernelText ? [stringAttr(NLMSGERR_ATTR_MSG, kernelText)] : [];
  const flags = NLM_F_CAPPED | (tlvs.length ? NLM_F_ACK_TLVS : 0);
  return raw(NLMSG_ERROR, flags, request.seq, Buffer.concat([code, echo, ...tlvs]));
}

function datagram(...messages: Buffer[]): NetlinkDatagram {
  return { data: Buffer.concat(messages), multicast: false, truncated: false };
}

/**
 * A kernel in a box: answers each sent message with what `respond` returns, queued during the
 * send as the real kernel does, and delivered on the next loop turn while the socket listens.
 */
class FakeKernel implements NetlinkTransport {
  maxSendBytes = 1 << 20;
  maxSendParts = 1024;
  maxRepliesQueued = 1 << 20;
  receiver!: NetlinkReceiver;
  sends: NetlinkMessage[][] = [];
  queue: NetlinkDatagram[] = [];
  receiving = false;
  closed = false;
  autoDeliver = true;
  refuseSend: ((messages: NetlinkMessage[]) => Error | undefined) | undefined;

  constructor(public respond: (m: NetlinkMessage) => Buffer[] = (m) => (m.flags & NLM_F_ACK ? [errorFor(m, 0)] : [])) {}

  attach(receiver: NetlinkReceiver): void {
    this.receiver = receiver;
  }

  send(parts: readonly Buffer[]): void {
    if (parts.length > this.maxSendParts) throw new Error(`sent ${parts.length} iovecs`);
    const messages = decodeMessages(Buffer.concat(parts));
    const refusal = this.refuseSend?.(messages);
    if (refusal) throw refusal;
    this.sends.push(messages);
    for (const m of messages) for (const reply of this.respond(m)) this.queue.push(datagram(reply));
    if (this.autoDeliver) setImmediate(() => this.flush());
  }

  flush(): void {
    if (!this.receiving || this.queue.length === 0) return;
    this.receiver.deliver(this.receiveNow());
  }

  receiveNow(): NetlinkDatagram[] {
    const queued = this.queue;
    this.queue = [];
    return queued;
  }

  setReceiving(on: boolean): void {
    this.receiving = on;
    if (on && this.autoDeliver) setImmediate(() => this.flush());
  }

  close(): void {
    this.closed = true;
  }
}

function setup(respond?: (m: NetlinkMessage) => Buffer[], notifications = false) {
  const kernel = new FakeKernel(respond);
  const socket = new NetlinkSocket(kernel, notifications);
  return { kernel, socket };
}

const u32 = (v: number): Buffer => u32Attr(1, v);

describe('request', () => {
  it('sets REQUEST|ACK, sends header + payload parts, resolves with the data replies once the ACK arrives', async () => {
    const { kernel, socket } = setup((m) => [raw(DATA_TYPE, 0, m.seq, u32(7)), errorFor(m, 0)]);
    const replies = await socket.request({ type: 0x1c, flags: 0x400, payload: [Buffer.from([1, 2, 0, 0]), u32(9)] });
    const [sent] = kernel.sends[0]!;
    expect(sent!.type).toBe(0x1c);
    expect(sent!.flags).toBe(NLM_F_REQUEST | NLM_F_ACK | 0x400);
    expect(sent!.seq).not.toBe(0);
    expect(sent!.payload.toString('hex')).toBe('01020000' + u32(9).toString('hex'));
    expect(replies.map((r) => [r.type, r.seq, r.payload.toString('hex')])).toEqual([
      [DATA_TYPE, sent!.seq, u32(7).toString('hex')],
    ]);
  });

  it('rejects with NetlinkError carrying errno, code and the kernel text', async () => {
    const { socket } = setup((m) => [errorFor(m, 17, 'Address already assigned')]);
    const err = await socket.request({ type: 20, payload: Buffer.alloc(8) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ errno: 17, code: 'EEXIST', kernelMessage: 'Address already assigned' });
    expect((err as Error).message).toMatch(/\(EEXIST\): Address already assigned$/);
  });

  it('matches concurrent replies by seq, whatever their order, and ignores unknown seqs', async () => {
    const { kernel, socket } = setup(() => []);
    const a = socket.request({ type: DATA_TYPE, payload: u32(1) });
    const b = socket.request({ type: DATA_TYPE, payload: u32(2) });
    const [ma, mb] = kernel.sends.map((s) => s[0]!);
    socket.deliver([
      datagram(raw(DATA_TYPE, 0, 999_999, u32(0)), errorFor({ ...ma!, seq: 999_999 }, 0)),
      datagram(raw(DATA_TYPE, 0, mb!.seq, u32(20)), errorFor(mb!, 0)),
      datagram(raw(DATA_TYPE, 0, ma!.seq, u32(10)), errorFor(ma!, 0)),
    ]);
    expect((await a).map((m) => m.payload.readUInt32LE(4))).toEqual([10]);
    expect((await b).map((m) => m.payload.readUInt32LE(4))).toEqual([20]);
  });

  it('a refused send rejects with the errno as NetlinkError', async () => {
    const { kernel, socket } = setup();
    kernel.refuseSend = () => Object.assign(new Error('sendmsg: Message too long'), { errno: 90 });
    await expect(socket.request({ type: DATA_TYPE, payload: u32(1) })).rejects.toMatchObject({ code: 'EMSGSIZE' });
  });
});

describe('dump', () => {
  const parts = (m: NetlinkMessage, flagsOfPart = NLM_F_MULTI): Buffer[] => [
    Buffer.concat([raw(DATA_TYPE, flagsOfPart, m.seq, u32(1)), raw(DATA_TYPE, flagsOfPart, m.seq, u32(2))]),
    raw(DATA_TYPE, NLM_F_MULTI, m.seq, u32(3)),
    raw(NLMSG_DONE, NLM_F_MULTI, m.seq, Buffer.alloc(4)),
  ];

  it('sets NLM_F_DUMP without ACK and collects every part across datagrams until NLMSG_DONE', async () => {
    const { kernel, socket } = setup((m) => parts(m));
    const replies = await socket.dump({ type: 18, payload: Buffer.alloc(16) });
    expect(kernel.sends[0]![0]!.flags).toBe(NLM_F_REQUEST | NLM_F_DUMP);
    expect(replies.map((r) => r.payload.readUInt32LE(4))).toEqual([1, 2, 3]);
  });

  it('NLM_F_DUMP_INTR on any part rejects with DumpInterruptedError', async () => {
    const { socket } = setup((m) => parts(m, NLM_F_MULTI | NLM_F_DUMP_INTR));
    const err = await socket.dump({ type: 18, payload: Buffer.alloc(16) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DumpInterruptedError);
    expect(err).toBeInstanceOf(NetlinkError);
  });

  it('NLMSG_DONE carrying a negative errno rejects', async () => {
    const status = Buffer.alloc(4);
    status.writeInt32LE(-90, 0);
    const { socket } = setup((m) => [raw(DATA_TYPE, NLM_F_MULTI, m.seq, u32(1)), raw(NLMSG_DONE, NLM_F_MULTI, m.seq, status)]);
    await expect(socket.dump({ type: 18, payload: Buffer.alloc(16) })).rejects.toMatchObject({ code: 'EMSGSIZE' });
  });

  it('runs one dump at a time (the kernel answers a second one with EBUSY), in call order', async () => {
    const { kernel, socket } = setup(() => []);
    kernel.autoDeliver = false;
    const first = socket.dump({ type: 18, payload: u32(1) });
    const second = socket.dump({ type: 18, payload: u32(2) });
    const failed = socket.dump({ type: 18, payload: u32(3) }).catch((e: unknown) => e);
    const third = socket.dump({ type: 18, payload: u32(4) });
    expect(kernel.sends.length).toBe(1);
    const answer = (index: number, ...messages: Buffer[]): Promise<void> => {
      socket.deliver([datagram(...messages.length ? messages : parts(kernel.sends[index]![0]!))]);
      return nextTurn().then(() => undefined);
    };
    await answer(0);
    expect(kernel.sends.length).toBe(2);
    await answer(1);
    await answer(2, errorFor(kernel.sends[2]![0]!, 16));
    await answer(3);
    expect((await first).length).toBe(3);
    expect((await second).length).toBe(3);
    expect(await failed).toMatchObject({ code: 'EBUSY' });
    expect((await third).length).toBe(3);
    expect(kernel.sends.map((s) => s[0]!.payload.readUInt32LE(4))).toEqual([1, 2, 3, 4]);
  });

  it('an error instead of a dump rejects', async () => {
    const { socket } = setup((m) => [errorFor(m, 95)]);
    await expect(socket.dump({ type: 18, payload: Buffer.alloc(16) })).rejects.toMatchObject({ errno: 95 });
  });
});

describe('requestSync', () => {
  it('reads the answer the kernel queued during the send, with no loop turn', () => {
    const { kernel, socket } = setup((m) => [raw(DATA_TYPE, 0, m.seq, u32(5)), errorFor(m, 0)]);
    kernel.autoDeliver = false;
    const replies = socket.requestSync({ type: DATA_TYPE, payload: u32(1) });
    expect(replies.map((m) => m.payload.readUInt32LE(4))).toEqual([5]);
  });

  it('throws the kernel error synchronously', () => {
    const { kernel, socket } = setup((m) => [errorFor(m, 2)]);
    kernel.autoDeliver = false;
    expect(() => socket.requestSync({ type: DATA_TYPE, payload: u32(1) })).toThrow(/ENOENT/);
  });

  it('throws NetlinkNoReplyError when nothing was queued', () => {
    const { kernel, socket } = setup(() => []);
    kernel.autoDeliver = false;
    expect(() => socket.requestSync({ type: DATA_TYPE, payload: u32(1) })).toThrow(NetlinkNoReplyError);
  });
});

describe('notifications', () => {
  it('multicast datagrams and seq-0 messages go to "notification" on a socket with groups', () => {
    const { socket } = setup(undefined, true);
    const seen: number[] = [];
    socket.on('notification', (m: NetlinkMessage) => seen.push(m.payload.readUInt32LE(4)));
    socket.deliver([
      { data: raw(DATA_TYPE, 0, 0, u32(1)), multicast: true, truncated: false },
      { data: raw(DATA_TYPE, 0, 31, u32(2)), multicast: true, truncated: false }, // caused by someone's request
      datagram(raw(DATA_TYPE, 0, 0, u32(3))),
      datagram(raw(DATA_TYPE, 0, 12345, u32(4))), // unicast with an unknown seq: dropped
    ]);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('a socket without groups never emits notifications', () => {
    const { socket } = setup();
    let count = 0;
    socket.on('notification', () => count++);
    socket.deliver([{ data: raw(DATA_TYPE, 0, 0, u32(1)), multicast: true, truncated: false }]);
    expect(count).toBe(0);
  });
});

describe('failures of the transport', () => {
  it('ENOBUFS rejects every pending request, dump and batch; the socket keeps working', async () => {
    const { kernel, socket } = setup(() => []);
    const errors: Error[] = [];
    socket.on('error', (e: Error) => errors.push(e));
    const req = socket.request({ type: DATA_TYPE, payload: u32(1) });
    const dump = socket.dump({ type: DATA_TYPE, payload: u32(1) });
    const queuedDump = socket.dump({ type: DATA_TYPE, payload: u32(1) });
    const batch = socket.batch([{ type: DATA_TYPE, payload: u32(1) }], { ack: 'last' });
    const overrun = new NetlinkError(105);
    socket.fail(overrun);
    await expect(req).rejects.toBe(overrun);
    await expect(dump).rejects.toBe(overrun);
    await expect(queuedDump).rejects.toBe(overrun);
    await expect(batch).rejects.toBe(overrun);
    expect(errors).toEqual([overrun]);
    // Late answers to the rejected requests are ignored; a new request is answered normally.
    kernel.respond = (m) => [errorFor(m, 0)];
    const late = kernel.sends.flat().map((m) => errorFor(m, 0));
    socket.deliver([datagram(...late)]);
    await expect(socket.request({ type: DATA_TYPE, payload: u32(2) })).resolves.toEqual([]);
  });

  it('a truncated or malformed datagram rejects what is pending (its reply may be lost)', async () => {
    const { socket } = setup(() => []);
    const a = socket.request({ type: DATA_TYPE, payload: u32(1) });
    socket.deliver([{ data: Buffer.alloc(100), multicast: false, truncated: true }]);
    await expect(a).rejects.toBeInstanceOf(NetlinkParseError);
    const b = socket.request({ type: DATA_TYPE, payload: u32(1) });
    socket.deliver([datagram(Buffer.from('0300000001000000', 'hex'))]);
    await expect(b).rejects.toBeInstanceOf(NetlinkParseError);
  });

  it('close() rejects pending work with NetlinkClosedError, closes the transport, refuses new work', async () => {
    const { kernel, socket } = setup(() => []);
    const a = socket.request({ type: DATA_TYPE, payload: u32(1) });
    const b = socket.batch([{ type: DATA_TYPE, payload: u32(1) }], { ack: 'each' });
    socket.close();
    await expect(a).rejects.toBeInstanceOf(NetlinkClosedError);
    await expect(b).rejects.toBeInstanceOf(NetlinkClosedError);
    expect(kernel.closed).toBe(true);
    await expect(socket.request({ type: DATA_TYPE, payload: u32(1) })).rejects.toBeInstanceOf(NetlinkClosedError);
    expect(() => socket.requestSync({ type: DATA_TYPE, payload: u32(1) })).toThrow(NetlinkClosedError);
    socket.close();
  });
});

describe('sequence numbers and watching', () => {
  it('wrap past 2^32 - 1, skipping 0 and numbers still awaited', async () => {
    const { kernel, socket } = setup(() => []);
    (socket as unknown as { seq: number }).seq = 0xfffffffe;
    const first = socket.request({ type: DATA_TYPE, payload: u32(1) }); // 0xffffffff
    (socket as unknown as { seq: number }).seq = 0xfffffffe; // force a collision with the pending one
    const second = socket.request({ type: DATA_TYPE, payload: u32(2) });
    expect(kernel.sends.map((s) => s[0]!.seq)).toEqual([0xffffffff, 1]);
    socket.close();
    await expect(Promise.all([first, second])).rejects.toBeInstanceOf(NetlinkClosedError);
  });

  it('watches the socket only while answers are awaited, unless it has groups', async () => {
    const { kernel, socket } = setup();
    expect(kernel.receiving).toBe(false);
    const done = socket.request({ type: DATA_TYPE, payload: u32(1) });
    expect(kernel.receiving).toBe(true);
    await done;
    await nextTurn();
    expect(kernel.receiving).toBe(false);
    const withGroups = setup(undefined, true);
    expect(withGroups.kernel.receiving).toBe(true);
  });
});

describe('batch', () => {
  const requests = (n: number) => Array.from({ length: n }, (_, i) => ({ type: DATA_TYPE, payload: u32(i) }));
  const indexOf = (m: NetlinkMessage): number => m.payload.readUInt32LE(4);

  /** Fails the given request indexes; ACKs only when asked, as the kernel does. */
  const failing =
    (bad: Record<number, number>) =>
    (m: NetlinkMessage): Buffer[] => {
      const errno = bad[indexOf(m)];
      if (errno) return [errorFor(m, errno)];
      return m.flags & NLM_F_ACK ? [errorFor(m, 0)] : [];
    };

  it("'last': ACK only on the last message of each send; errors in the middle map to their request", async () => {
    const { kernel, socket } = setup(failing({ 2: 17, 5: 2, 7: 22 }));
    const result = await socket.batch(requests(10), { ack: 'last', perSend: 4 });
    expect(kernel.sends.map((s) => s.map(indexOf))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(kernel.sends.map((s) => s.map((m) => (m.flags & NLM_F_ACK ? 1 : 0)))).toEqual([
      [0, 0, 0, 1],
      [0, 0, 0, 1],
      [0, 1],
    ]);
    expect(result.errors.map((e) => [e.index, e.error.code])).toEqual([
      [2, 'EEXIST'],
      [5, 'ENOENT'],
      [7, 'EINVAL'], // the last of its send: its error settles the send
    ]);
  });

  it("'each': every message is ACKed; every error is mapped; data replies are ignored", async () => {
    const { kernel, socket } = setup((m) => [raw(DATA_TYPE, 0, m.seq, u32(0)), ...failing({ 0: 1, 9: 13 })(m)]);
    const result = await socket.batch(requests(10), { ack: 'each', perSend: 3 });
    expect(kernel.sends.flat().every((m) => m.flags & NLM_F_ACK)).toBe(true);
    expect(result.errors.map((e) => [e.index, e.error.code])).toEqual([
      [0, 'EPERM'],
      [9, 'EACCES'],
    ]);
  });

  it('keeps at most `window` sends unanswered', async () => {
    const { kernel, socket } = setup();
    kernel.autoDeliver = false;
    const done = socket.batch(requests(12), { ack: 'last', perSend: 3, window: 2 });
    expect(kernel.sends.length).toBe(2);
    kernel.flush();
    expect(kernel.sends.length).toBe(4);
    kernel.flush();
    await expect(done).resolves.toEqual({ errors: [] });
  });

  it('shrinks sends to what the receive buffer, the send buffer and the iovec limit allow', async () => {
    const byReplies = setup();
    byReplies.kernel.maxRepliesQueued = 10;
    await byReplies.socket.batch(requests(12), { ack: 'each', perSend: 100, window: 2 });
    expect(byReplies.kernel.sends.map((s) => s.length)).toEqual([5, 5, 2]);

    const byBytes = setup();
    byBytes.kernel.maxSendBytes = 3 * 24; // each message is 16 + 8 bytes
    await byBytes.socket.batch(requests(7), { ack: 'last' });
    expect(byBytes.kernel.sends.map((s) => s.length)).toEqual([3, 3, 1]);

    const byParts = setup();
    byParts.kernel.maxSendParts = 2; // each message is framed into one contiguous iovec
    await byParts.socket.batch(requests(5), { ack: 'last' });
    expect(byParts.kernel.sends.map((s) => s.length)).toEqual([2, 2, 1]);
  });

  it('a refused send fails each of its requests and the batch goes on', async () => {
    const { kernel, socket } = setup();
    kernel.refuseSend = (ms) => (ms.some((m) => indexOf(m) === 3) ? Object.assign(new Error('x'), { errno: 90 }) : undefined);
    const result = await socket.batch(requests(6), { ack: 'last', perSend: 2 });
    expect(result.errors.map((e) => [e.index, e.error.code])).toEqual([
      [2, 'EMSGSIZE'],
      [3, 'EMSGSIZE'],
    ]);
    expect(kernel.sends.map((s) => s.map(indexOf))).toEqual([
      [0, 1],
      [4, 5],
    ]);
  });

  it('an empty batch resolves at once', async () => {
    const { kernel, socket } = setup();
    await expect(socket.batch([], { ack: 'each' })).resolves.toEqual({ errors: [] });
    expect(kernel.sends).toEqual([]);
  });

  it('pads payloads of odd length so the next message starts aligned', async () => {
    const { kernel, socket } = setup();
    await socket.batch(
      [
        { type: DATA_TYPE, payload: Buffer.from([1, 2, 3]) },
        { type: DATA_TYPE, payload: u32(1) },
      ],
      { ack: 'last' },
    );
    expect(kernel.sends[0]!.map((m) => m.payload.length)).toEqual([3, 8]);
  });
});
