// What NetlinkSocket needs from below: a datagram pipe to the kernel. The native socket is one;
// a unit test's recorded replies are another.

export interface NetlinkDatagram {
  data: Buffer;
  /** Sent to a multicast group (a notification), not to us alone. */
  multicast: boolean;
  /** The datagram did not fit the receive buffer and was cut. */
  truncated: boolean;
}

/** Where a transport delivers what it receives. */
export interface NetlinkReceiver {
  deliver(datagrams: readonly NetlinkDatagram[]): void;
  /** The transport lost datagrams (ENOBUFS) or failed: pending replies may never come. */
  fail(error: Error): void;
}

export interface NetlinkTransport {
  attach(receiver: NetlinkReceiver): void;
  /** One sendmsg; each part is one iovec. Throws on a refused send. */
  send(parts: readonly Buffer[]): void;
  /** Datagrams already queued, without waiting; [] when none. */
  receiveNow(): NetlinkDatagram[];
  /** Deliver datagrams as they arrive (true) or stop watching, so an idle socket does not hold the process. */
  setReceiving(on: boolean): void;
  close(): void;
  /** Largest sendmsg the socket accepts, in bytes. */
  readonly maxSendBytes: number;
  /** Largest number of iovecs in one sendmsg. */
  readonly maxSendParts: number;
  /** How many replies can wait in the receive buffer before the kernel starts dropping them. */
  readonly maxRepliesQueued: number;
}
