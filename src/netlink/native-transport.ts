// NetlinkTransport over the project's native socket: AF_NETLINK/SOCK_RAW, extended ACKs, capped
// error echoes, large forced buffers when permitted, multicast groups joined by number.
import {
  AF_NETLINK,
  NativeSocket,
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SOCK_RAW,
  SOL_NETLINK,
  SOL_SOCKET,
  sockaddrNetlink,
  type ReceivedDatagram,
} from '../native/index.js';
import { NetlinkError } from './errors.js';
import type { NetlinkDatagram, NetlinkReceiver, NetlinkTransport } from './transport.js';

const DEFAULT_RECEIVE_BUFFER = 8 * 1024 * 1024;
const SEND_BUFFER = 4 * 1024 * 1024;
/** netlink_sendmsg refuses more than sk_sndbuf - 32 bytes. */
const SEND_OVERHEAD = 32;
/** UIO_MAXIOV. */
const MAX_IOVECS = 1024;
/**
 * Receive-buffer cost of one request's answers: the kernel trims each reply to its size, and a
 * GETFAMILY reply or an ACK measured 832 bytes of truesize each on 6.18; twice that, for both.
 */
const REPLY_TRUESIZE = 2048;
/** Dump datagrams are at most 32 KiB; anything larger is flagged as truncated. */
const RECEIVE = { batch: 64, bufferSize: 65536 } as const;

function toDatagram(d: ReceivedDatagram): NetlinkDatagram {
  // sockaddr_nl.nl_groups (offset 8) is non-zero when the kernel sent to a multicast group.
  const multicast = d.address !== null && d.address.length >= 12 && d.address.readUInt32LE(8) !== 0;
  return { data: d.data, multicast, truncated: d.truncated };
}

function toNetlinkError(err: unknown): Error {
  const errno = (err as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' && errno > 0 ? new NetlinkError(errno) : (err as Error);
}

/** Forced size when the process may (CAP_NET_ADMIN), else as much as rmem_max/wmem_max allow. */
function setBufferSize(socket: NativeSocket, forced: number, plain: number, bytes: number): number {
  try {
    socket.setsockopt(SOL_SOCKET, forced, bytes);
  } catch {
    socket.setsockopt(SOL_SOCKET, plain, bytes);
  }
  // The kernel doubles the value for its bookkeeping and reports what it keeps.
  return socket.getsockopt(SOL_SOCKET, plain, 4).readInt32LE(0);
}

class NativeNetlinkTransport implements NetlinkTransport {
  readonly maxSendParts = MAX_IOVECS;
  private started = false;

  constructor(
    private readonly socket: NativeSocket,
    readonly maxSendBytes: number,
    readonly maxRepliesQueued: number,
  ) {}

  attach(receiver: NetlinkReceiver): void {
    this.socket.on('messages', (datagrams: ReceivedDatagram[]) => receiver.deliver(datagrams.map(toDatagram)));
    this.socket.on('error', (err: Error) => receiver.fail(toNetlinkError(err)));
  }

  send(parts: readonly Buffer[]): void {
    this.socket.send(parts);
  }

  receiveNow(): NetlinkDatagram[] {
    return this.socket.receive(RECEIVE).map(toDatagram);
  }

  /** Polls from the first call on; only the loop reference changes, which costs no syscall. */
  setReceiving(on: boolean): void {
    if (!this.started) {
      this.started = true;
      this.socket.start(RECEIVE);
    }
    if (on) this.socket.ref();
    else this.socket.unref();
  }

  close(): void {
    this.socket.close();
  }
}

export function openNativeTransport(
  protocol: number,
  options: { groups?: readonly number[]; receiveBufferSize?: number },
): NetlinkTransport {
  const socket = NativeSocket.open(AF_NETLINK, SOCK_RAW, protocol);
  try {
    socket.bind(sockaddrNetlink(0, 0));
    // Both are refinements (kernel error texts, shorter error echoes) that old kernels lack.
    for (const option of [NETLINK_EXT_ACK, NETLINK_CAP_ACK]) {
      try {
        socket.setsockopt(SOL_NETLINK, option, 1);
      } catch {
        // Errors then come without kernel text or with the whole request echoed: still decodable.
      }
    }
    const receiveBuffer = setBufferSize(socket, SO_RCVBUFFORCE, SO_RCVBUF, options.receiveBufferSize ?? DEFAULT_RECEIVE_BUFFER);
    const sendBuffer = setBufferSize(socket, SO_SNDBUFFORCE, SO_SNDBUF, SEND_BUFFER);
    for (const group of options.groups ?? []) socket.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group);
    return new NativeNetlinkTransport(
      socket,
      sendBuffer - SEND_OVERHEAD,
      Math.max(1, Math.floor(receiveBuffer / REPLY_TRUESIZE)),
    );
  } catch (err) {
    socket.close();
    throw err;
  }
}
