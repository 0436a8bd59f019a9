// NativeSocket: a generic socket (any domain, type, protocol) on the nsock addon. Receiving is
// event-driven through libuv polling; sends are synchronous and never block.
import { EventEmitter } from 'node:events';
import { loadAddon, type FlatDatagrams, type NativeHandle, type NsockAddon } from './addon.js';
import { MSG_TRUNC } from './constants.js';

export interface ReceivedDatagram {
  data: Buffer;
  address: Buffer | null;
  control: Buffer | null;
  truncated: boolean;
}

export interface ReceiveOptions {
  batch?: number;
  bufferSize?: number;
  address?: boolean;
  control?: boolean;
}

const EBADF = 9;
const MAX_BATCH = 1024;
const MAX_BUFFER_SIZE = 16 * 1024 * 1024;

export class SocketError extends Error {
  override readonly name = 'SocketError';

  // Argument order is the addon's: it constructs these directly.
  constructor(
    message: string,
    readonly errno: number,
    readonly code: string,
    readonly syscall: string,
  ) {
    super(message);
  }
}

function addon(): NsockAddon {
  return loadAddon((loaded) => loaded.setErrorClass(SocketError));
}

function resolveOptions(options: ReceiveOptions = {}): [number, number, boolean, boolean] {
  const batch = options.batch ?? 64;
  const bufferSize = options.bufferSize ?? 65536;
  if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) {
    throw new RangeError(`batch must be an integer 1..${MAX_BATCH}, got ${batch}`);
  }
  if (!Number.isInteger(bufferSize) || bufferSize < 1 || bufferSize > MAX_BUFFER_SIZE) {
    throw new RangeError(`bufferSize must be an integer 1..${MAX_BUFFER_SIZE}, got ${bufferSize}`);
  }
  return [batch, bufferSize, options.address ?? true, options.control ?? false];
}

function toDatagrams(flat: FlatDatagrams): ReceivedDatagram[] {
  const datagrams: ReceivedDatagram[] = new Array<ReceivedDatagram>(flat.length / 4);
  for (let i = 0, j = 0; j < flat.length; i++, j += 4) {
    datagrams[i] = {
      data: flat[j] as Buffer,
      address: flat[j + 1] as Buffer | null,
      control: flat[j + 2] as Buffer | null,
      truncated: ((flat[j + 3] as number) & MSG_TRUNC) !== 0,
    };
  }
  return datagrams;
}

/** Events: 'messages' (ReceivedDatagram[]) per batch while started, 'error' (SocketError). */
export class NativeSocket extends EventEmitter {
  #handle: NativeHandle | null;
  #fd: number;
  #warned = false;

  private constructor(handle: NativeHandle, fd: number) {
    super();
    this.#handle = handle;
    this.#fd = fd;
    // An 'error' event without listeners would throw inside the poll callback and end the process.
    this.on('error', this.#reportUnhandled);
  }

  /** socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC added. */
  static open(domain: number, type: number, protocol: number): NativeSocket {
    const native = addon();
    const handle = native.open(domain, type, protocol);
    return new NativeSocket(handle, native.fd(handle));
  }

  /** The descriptor, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#handle === null;
  }

  bind(address: Buffer): void {
    addon().bind(this.#live('bind'), address);
  }

  connect(address: Buffer): void {
    addon().connect(this.#live('connect'), address);
  }

  getsockname(): Buffer {
    return addon().getsockname(this.#live('getsockname'));
  }

  /** A number is passed as a C int; a Buffer as the raw option struct. */
  setsockopt(level: number, name: number, value: Buffer | number): void {
    addon().setsockopt(this.#live('setsockopt'), level, name, value);
  }

  getsockopt(level: number, name: number, length: number): Buffer {
    return addon().getsockopt(this.#live('getsockopt'), level, name, length);
  }

  /** One sendmsg; an array is gathered as iovecs into one datagram (at most 1024 parts, else EMSGSIZE). */
  send(data: Buffer | readonly Buffer[], address?: Buffer): number {
    return addon().send(this.#live('sendmsg'), data, address);
  }

  /**
   * sendmmsg, 1024 datagrams per system call. Returns how many were sent: fewer than asked when
   * the socket's queue filled (the rest are not sent). Throws only if none could be sent.
   */
  sendMany(datagrams: readonly (Buffer | readonly Buffer[])[], address?: Buffer): number {
    return addon().sendMany(this.#live('sendmmsg'), datagrams, address);
  }

  /** One non-blocking recvmmsg now; [] when nothing is queued. */
  receive(options?: ReceiveOptions): ReceivedDatagram[] {
    const [batch, bufferSize, address, control] = resolveOptions(options);
    return toDatagrams(addon().receive(this.#live('recvmmsg'), batch, bufferSize, address, control));
  }

  /** Polls for readability and emits 'messages' per recvmmsg batch; calling again changes the options. */
  start(options?: ReceiveOptions): void {
    const [batch, bufferSize, address, control] = resolveOptions(options);
    addon().start(this.#live('uv_poll_start'), this.#deliver, batch, bufferSize, address, control);
  }

  stop(): void {
    addon().stop(this.#live('uv_poll_stop'));
  }

  /** Lets a started socket keep the event loop alive (the default). */
  ref(): this {
    addon().setRef(this.#live('uv_ref'), true);
    return this;
  }

  /** A started socket no longer keeps the event loop alive on its own. */
  unref(): this {
    addon().setRef(this.#live('uv_unref'), false);
    return this;
  }

  /** Stops polling and closes the descriptor; safe twice and from inside a 'messages' listener. */
  close(): void {
    const handle = this.#handle;
    if (handle === null) return;
    this.#handle = null;
    this.#fd = -1;
    addon().close(handle);
  }

  #live(syscall: string): NativeHandle {
    if (this.#handle === null) {
      throw new SocketError(`${syscall}: socket is closed`, EBADF, 'EBADF', syscall);
    }
    return this.#handle;
  }

  readonly #deliver = (error: Error | null, flat: FlatDatagrams | null): void => {
    if (error !== null) this.emit('error', error);
    else if (flat !== null) this.emit('messages', toDatagrams(flat));
  };

  readonly #reportUnhandled = (error: Error): void => {
    if (this.listenerCount('error') > 1 || this.#warned) return;
    this.#warned = true;
    process.stderr.write(`nsock: unhandled error on socket (fd ${this.#fd}), further ones not shown: ${error.message}\n`);
  };
}

/** if_nametoindex; SocketError ENODEV when there is no such interface. */
export function interfaceIndex(name: string): number {
  return addon().interfaceIndex(name);
}

/** if_indextoname; SocketError ENXIO when there is no such index. */
export function interfaceName(index: number): string {
  return addon().interfaceName(index);
}
