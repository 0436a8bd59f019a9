import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AF_INET,
  AF_NETLINK,
  IP_PKTINFO,
  IP_RECVERR,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_GENERIC,
  NETLINK_ROUTE,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SOCK_DGRAM,
  SOCK_RAW,
  SOL_IP,
  SOL_NETLINK,
  SOL_SOCKET,
} from '../../src/native/constants.js';
import { parseSockaddr, sockaddrIn, sockaddrNetlink } from '../../src/native/sockaddr.js';
import {
  interfaceIndex,
  interfaceName,
  NativeSocket,
  SocketError,
  type ReceivedDatagram,
} from '../../src/native/socket.js';

const opened: NativeSocket[] = [];

function open(domain: number, type: number, protocol: number): NativeSocket {
  const socket = NativeSocket.open(domain, type, protocol);
  opened.push(socket);
  return socket;
}

afterEach(() => {
  for (const socket of opened.splice(0)) socket.close();
});

function udpPair(): { receiver: NativeSocket; sender: NativeSocket; to: Buffer; from: Buffer } {
  const receiver = open(AF_INET, SOCK_DGRAM, 0);
  receiver.bind(sockaddrIn('127.0.0.1', 0));
  const sender = open(AF_INET, SOCK_DGRAM, 0);
  sender.bind(sockaddrIn('127.0.0.1', 0));
  return { receiver, sender, to: receiver.getsockname(), from: sender.getsockname() };
}

/** Collects 'messages' batches until `done` says stop; rejects on an 'error' event. */
function collect(
  socket: NativeSocket,
  done: (all: ReceivedDatagram[], batches: number) => boolean,
): Promise<{ all: ReceivedDatagram[]; batches: number }> {
  return new Promise((resolve, reject) => {
    const all: ReceivedDatagram[] = [];
    let batches = 0;
    const timer = setTimeout(() => reject(new Error(`timed out after ${all.length} datagrams`)), 5000);
    socket.on('error', reject);
    socket.on('messages', (datagrams: ReceivedDatagram[]) => {
      batches++;
      all.push(...datagrams);
      if (done(all, batches)) {
        clearTimeout(timer);
        socket.stop();
        resolve({ all, batches });
      }
    });
  });
}

function portOf(socket: NativeSocket): number {
  const address = parseSockaddr(socket.getsockname());
  return address.family === 'inet' ? address.port : -1;
}

function caught(fn: () => unknown): SocketError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SocketError);
    return err as SocketError;
  }
  throw new Error('expected a SocketError');
}

describe('NativeSocket over UDP loopback', () => {
  it('opens a non-blocking descriptor', () => {
    const socket = open(AF_INET, SOCK_DGRAM, 0);
    expect(socket.fd).toBeGreaterThan(2);
    expect(socket.receive()).toEqual([]);
  });

  it('sendMany 200 datagrams, start() delivers all in batches with the sender address', async () => {
    const { receiver, sender, to, from } = udpPair();
    const datagrams = Array.from({ length: 200 }, (_, i) => Buffer.from(`datagram ${i}`));
    expect(sender.sendMany(datagrams, to)).toBe(200);
    const result = collect(receiver, (all) => all.length >= 200);
    receiver.start({ batch: 16 });
    const { all, batches } = await result;
    expect(all.map((d) => d.data.toString())).toEqual(datagrams.map((d) => d.toString()));
    expect(batches).toBeGreaterThanOrEqual(13);
    for (const d of all) {
      expect(d.address).toEqual(from);
      expect(d.control).toBeNull();
      expect(d.truncated).toBe(false);
    }
    expect(parseSockaddr(all[0]!.address!)).toEqual(parseSockaddr(from));
  });

  it('gives each datagram its own Buffer, not a view on a reused one', () => {
    const { receiver, sender, to } = udpPair();
    sender.sendMany([Buffer.from('first'), Buffer.from('second')], to);
    const got = receiver.receive({ batch: 1 });
    sender.send(Buffer.from('XXXXXXXXXX'), to);
    receiver.receive({ batch: 4 });
    expect(got[0]!.data.toString()).toBe('first');
    expect(got[0]!.data.buffer.byteLength).toBeLessThan(65536);
  });

  it('send with an iovec array arrives as one datagram', () => {
    const { receiver, sender, to } = udpPair();
    const parts = [Buffer.from('one '), Buffer.from('two '), Buffer.alloc(0), Buffer.from('three')];
    expect(sender.send(parts, to)).toBe(13);
    const got = receiver.receive();
    expect(got).toHaveLength(1);
    expect(got[0]!.data.toString()).toBe('one two three');
  });

  it('sendMany mixes Buffers and iovec arrays, and chunks past 1024 datagrams', () => {
    const { receiver, sender, to } = udpPair();
    receiver.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, 32 * 1024 * 1024);
    const datagrams: (Buffer | Buffer[])[] = Array.from({ length: 2500 }, (_, i) =>
      i % 2 ? Buffer.from(String(i)) : [Buffer.from('#'), Buffer.from(String(i))],
    );
    expect(sender.sendMany(datagrams, to)).toBe(2500);
    const got: ReceivedDatagram[] = [];
    for (let batch = receiver.receive({ batch: 1024 }); batch.length > 0; batch = receiver.receive({ batch: 1024 })) {
      got.push(...batch);
    }
    expect(got).toHaveLength(2500);
    expect(got[2]!.data.toString()).toBe('#2');
    expect(got[2499]!.data.toString()).toBe('2499');
  });

  it('refuses more than 1024 iovecs in one send with EMSGSIZE', () => {
    const { sender, to } = udpPair();
    const err = caught(() => sender.send(Array.from({ length: 1025 }, () => Buffer.from('x')), to));
    expect(err).toMatchObject({ code: 'EMSGSIZE', errno: 90, syscall: 'sendmsg' });
    expect(err.message).toMatch(/1025 buffers exceed the limit of 1024/);
  });

  it('flags truncation and hands out ancillary data when asked', () => {
    const { receiver, sender, to } = udpPair();
    receiver.setsockopt(SOL_IP, IP_PKTINFO, 1);
    sender.send(Buffer.from('0123456789'), to);
    sender.send(Buffer.from('ab'), to);
    const [long, short] = receiver.receive({ bufferSize: 4, control: true, address: false });
    expect(long).toMatchObject({ truncated: true, address: null });
    expect(long!.data.toString()).toBe('0123');
    expect(short).toMatchObject({ truncated: false });
    // cmsghdr (16 bytes) + in_pktinfo (12): level SOL_IP, type IP_PKTINFO, ifindex of lo.
    expect(long!.control!.length).toBe(32);
    expect(long!.control!.readInt32LE(8)).toBe(SOL_IP);
    expect(long!.control!.readInt32LE(12)).toBe(IP_PKTINFO);
    expect(long!.control!.readInt32LE(16)).toBe(1);
  });

  it('connect + send without address, getsockopt reads back an int', () => {
    const { receiver, sender, to } = udpPair();
    sender.connect(to);
    sender.send(Buffer.from('connected'));
    expect(receiver.receive()[0]!.data.toString()).toBe('connected');
    receiver.setsockopt(SOL_SOCKET, SO_RCVBUF, 65536);
    expect(receiver.getsockopt(SOL_SOCKET, SO_RCVBUF, 4).readInt32LE(0)).toBe(131072);
  });

  it('close() inside a messages listener stops delivery; close twice is safe', async () => {
    const { receiver, sender, to } = udpPair();
    sender.sendMany(Array.from({ length: 50 }, (_, i) => Buffer.from(String(i))), to);
    let batches = 0;
    const errors: Error[] = [];
    receiver.on('error', (err: Error) => errors.push(err));
    receiver.on('messages', () => {
      batches++;
      receiver.close();
      receiver.close();
    });
    receiver.start({ batch: 4 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(batches).toBe(1);
    expect(errors).toEqual([]);
    expect(receiver.fd).toBe(-1);
    expect(receiver.closed).toBe(true);
    receiver.close();
  });

  it('stop() inside a listener, then start() again, resumes delivery', async () => {
    const { receiver, sender, to } = udpPair();
    sender.sendMany(Array.from({ length: 8 }, (_, i) => Buffer.from(String(i))), to);
    const first = collect(receiver, () => true);
    receiver.start({ batch: 2 });
    expect((await first).all.map((d) => d.data.toString())).toEqual(['0', '1']);
    receiver.removeAllListeners('messages');
    const rest = collect(receiver, (all) => all.length >= 6);
    receiver.start({ batch: 4 });
    expect((await rest).all.map((d) => d.data.toString())).toEqual(['2', '3', '4', '5', '6', '7']);
  });
});

describe('NativeSocket errors', () => {
  it('an ICMP error with IP_RECVERR is one error event, then delivery goes on', async () => {
    const { receiver, sender, to } = udpPair();
    const closedPort = open(AF_INET, SOCK_DGRAM, 0);
    closedPort.bind(sockaddrIn('127.0.0.1', 0));
    const unreachable = closedPort.getsockname();
    closedPort.close();
    receiver.setsockopt(SOL_IP, IP_RECVERR, 1);
    receiver.connect(unreachable);
    const errors: SocketError[] = [];
    receiver.on('error', (err: SocketError) => errors.push(err));
    receiver.start();
    receiver.send(Buffer.from('to nobody'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors.map((e) => e.code)).toEqual(['ECONNREFUSED']);
    receiver.connect(sockaddrIn('127.0.0.1', portOf(sender)));
    const arrived = collect(receiver, () => true);
    sender.send(Buffer.from('after'), to);
    expect((await arrived).all[0]!.data.toString()).toBe('after');
  });

  it('bind to an address not on this machine: EADDRNOTAVAIL, errno 99', () => {
    const socket = open(AF_INET, SOCK_DGRAM, 0);
    const err = caught(() => socket.bind(sockaddrIn('192.0.2.77', 0)));
    expect(err).toMatchObject({ code: 'EADDRNOTAVAIL', errno: 99, syscall: 'bind', name: 'SocketError' });
    expect(err.message).toBe('bind: Cannot assign requested address');
    expect(err).toBeInstanceOf(Error);
  });

  it('open with an unknown domain reports what the kernel says', () => {
    const err = caught(() => NativeSocket.open(4242, SOCK_DGRAM, 0));
    expect(err).toMatchObject({ code: 'EAFNOSUPPORT', errno: 97, syscall: 'socket' });
  });

  it('use after close: EBADF naming the call', () => {
    const socket = open(AF_INET, SOCK_DGRAM, 0);
    socket.close();
    expect(caught(() => socket.bind(sockaddrIn('127.0.0.1', 0)))).toMatchObject({
      code: 'EBADF',
      errno: 9,
      message: 'bind: socket is closed',
    });
    expect(caught(() => socket.send(Buffer.from('x')))).toMatchObject({ code: 'EBADF', syscall: 'sendmsg' });
    expect(caught(() => socket.start())).toMatchObject({ code: 'EBADF' });
  });

  it('setsockopt with an unknown option: ENOPROTOOPT', () => {
    const socket = open(AF_INET, SOCK_DGRAM, 0);
    expect(caught(() => socket.setsockopt(SOL_SOCKET, 9999, 1))).toMatchObject({
      code: 'ENOPROTOOPT',
      syscall: 'setsockopt',
    });
  });

  it('kernel errors from sendmmsg are SocketErrors; bad datagrams are TypeErrors', () => {
    const { sender, to } = udpPair();
    expect(sender.sendMany([], to)).toBe(0);
    expect(caught(() => sender.sendMany([Buffer.from('x')], Buffer.from('020000', 'hex')))).toMatchObject({
      code: 'EINVAL',
      syscall: 'sendmmsg',
    });
    expect(() => sender.sendMany([Buffer.from('x'), 'text' as unknown as Buffer], to)).toThrow(TypeError);
    expect(() => sender.send([Buffer.from('x'), 7 as unknown as Buffer], to)).toThrow(TypeError);
  });

  it('setsockopt takes only whole C ints as numbers', () => {
    const socket = open(AF_INET, SOCK_DGRAM, 0);
    expect(() => socket.setsockopt(SOL_SOCKET, SO_RCVBUF, 1.5)).toThrow(RangeError);
    expect(() => socket.setsockopt(SOL_SOCKET, SO_RCVBUF, 2 ** 31)).toThrow(RangeError);
  });

  it('rejects bad receive options before any system call', () => {
    const socket = open(AF_INET, SOCK_DGRAM, 0);
    expect(() => socket.receive({ batch: 0 })).toThrow(RangeError);
    expect(() => socket.start({ bufferSize: 1.5 })).toThrow(RangeError);
  });
});

describe('interfaces', () => {
  it('lo is index 1 and back', () => {
    expect(interfaceIndex('lo')).toBe(1);
    expect(interfaceName(1)).toBe('lo');
  });

  it('an unknown name is ENODEV, an unknown index ENXIO', () => {
    expect(caught(() => interfaceIndex('nosuchif0'))).toMatchObject({ code: 'ENODEV', errno: 19 });
    expect(caught(() => interfaceIndex('a-name-longer-than-ifnamsiz'))).toMatchObject({ code: 'ENODEV' });
    expect(caught(() => interfaceName(0x7ffffff0))).toMatchObject({ code: 'ENXIO', errno: 6 });
  });
});

// Netlink requests built by hand: nlmsghdr {len, type, flags, seq, pid} then the payload.
function nlmsg(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(16 + payload.length, 0);
  header.writeUInt16LE(type, 4);
  header.writeUInt16LE(flags, 6);
  header.writeUInt32LE(seq, 8);
  return Buffer.concat([header, payload]);
}

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const RTM_GETLINK = 18;
const GENL_ID_CTRL = 0x10;

/** genlmsghdr {cmd CTRL_CMD_GETFAMILY, version 1} + CTRL_ATTR_FAMILY_NAME "nlctrl". */
function getFamilyNlctrl(seq: number): Buffer {
  const payload = Buffer.alloc(4 + 12);
  payload.writeUInt8(3, 0);
  payload.writeUInt8(1, 1);
  payload.writeUInt16LE(4 + 7, 4);
  payload.writeUInt16LE(2, 6);
  payload.write('nlctrl\0', 8, 'latin1');
  return nlmsg(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, payload);
}

function messageTypes(data: Buffer): number[] {
  const types: number[] = [];
  for (let offset = 0; offset + 16 <= data.length; ) {
    const length = data.readUInt32LE(offset);
    types.push(data.readUInt16LE(offset + 4));
    if (length < 16) break;
    offset += (length + 3) & ~3;
  }
  return types;
}

describe('NativeSocket over netlink (host kernel)', () => {
  it('dumps links with a hand-built RTM_GETLINK and finds lo', async () => {
    const socket = open(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    socket.bind(sockaddrNetlink());
    socket.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1);
    socket.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1);
    expect(socket.getsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 4).readInt32LE(0)).toBe(1);
    expect(parseSockaddr(socket.getsockname())).toMatchObject({ family: 'netlink', groups: 0 });
    const ifinfomsg = Buffer.alloc(16); // family AF_UNSPEC: every link
    const result = collect(socket, (all) => all.some((d) => messageTypes(d.data).includes(NLMSG_DONE)));
    socket.start();
    expect(socket.send(nlmsg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, ifinfomsg), sockaddrNetlink())).toBe(32);
    const { all } = await result;
    expect(all.some((d) => d.data.includes(Buffer.from('lo\0')))).toBe(true);
    expect(parseSockaddr(all[0]!.address!)).toEqual({ family: 'netlink', pid: 0, groups: 0 });
  });

  it('survives a receive-buffer overrun: delivers what fit, then an ENOBUFS error event, then works again', async () => {
    const socket = open(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
    socket.bind(sockaddrNetlink());
    socket.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, 4096);
    const requests = Array.from({ length: 500 }, (_, i) => getFamilyNlctrl(i + 1));
    expect(socket.sendMany(requests, sockaddrNetlink())).toBe(500);

    const received: ReceivedDatagram[] = [];
    socket.on('messages', (datagrams: ReceivedDatagram[]) => received.push(...datagrams));
    const errorEvent = once(socket, 'error', { signal: AbortSignal.timeout(5000) });
    socket.start();
    const [err] = (await errorEvent) as [SocketError];
    expect(err).toBeInstanceOf(SocketError);
    expect(err).toMatchObject({ code: 'ENOBUFS', errno: 105 });
    // Everything that fit was delivered before the error.
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThan(1000);

    // Drained: a fresh request gets its reply and ACK.
    received.length = 0;
    const next = collect(socket, (all) => all.some((d) => messageTypes(d.data).includes(NLMSG_ERROR)));
    socket.start();
    socket.send(getFamilyNlctrl(9999), sockaddrNetlink());
    const { all } = await next;
    const seqs = all.map((d) => d.data.readUInt32LE(8));
    expect(seqs).toContain(9999);
  });

  it('an overrun with no error listener is logged once to stderr, not thrown', async () => {
    const socket = open(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
    socket.bind(sockaddrNetlink());
    socket.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, 4096);
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      for (let round = 0; round < 2; round++) {
        socket.sendMany(Array.from({ length: 300 }, (_, i) => getFamilyNlctrl(i + 1)), sockaddrNetlink());
        // No collect(): it would add an 'error' listener.
        const drained = once(socket, 'messages', { signal: AbortSignal.timeout(5000) });
        socket.start();
        await drained;
        await new Promise((resolve) => setTimeout(resolve, 20));
        socket.stop();
      }
      const lines = write.mock.calls.map(([text]) => String(text)).filter((text) => text.startsWith('nsock:'));
      expect(socket.listenerCount('error')).toBe(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/unhandled error .*recvmmsg: No buffer space available/);
    } finally {
      write.mockRestore();
    }
  });
});
