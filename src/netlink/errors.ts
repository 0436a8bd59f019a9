// Errors of the netlink layer: kernel refusals (with the errno's name as code), malformed input,
// interrupted dumps, and use of a closed socket.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

// Aliases that share a number with the name the kernel headers use first.
const ALIASES = new Set(['EWOULDBLOCK', 'ENOTSUP', 'EDEADLOCK']);
const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!ALIASES.has(name) && !errnoNames.has(value)) errnoNames.set(value, name);
}

function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

function errnoText(errno: number): string {
  const text = getSystemErrorMap().get(-errno)?.[1] ?? `error ${errno}`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The kernel refused a request: `errno` is positive, `code` its name ('EEXIST'). */
export class NetlinkError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly kernelMessage?: string;

  constructor(errno: number, kernelMessage?: string) {
    const code = errnoName(errno);
    super(`${errnoText(errno)} (${code})${kernelMessage ? `: ${kernelMessage}` : ''}`);
    this.name = 'NetlinkError';
    this.errno = errno;
    this.code = code;
    if (kernelMessage !== undefined) this.kernelMessage = kernelMessage;
  }
}

/** The kernel flagged a dump part with NLM_F_DUMP_INTR: the table changed while it was read. */
export class DumpInterruptedError extends NetlinkError {
  constructor() {
    // EINTR, the errno the kernel's own tools report for an interrupted dump.
    super(constants.errno.EINTR, 'the dump was interrupted by a concurrent change; read it again');
    this.name = 'DumpInterruptedError';
  }
}

/** Bytes that are not a well-formed netlink message or attribute stream. */
export class NetlinkParseError extends Error {
  readonly code = 'ENETLINKPARSE';

  constructor(message: string) {
    super(message);
    this.name = 'NetlinkParseError';
  }
}

/** A request was made on, or was pending when someone closed, the socket. */
export class NetlinkClosedError extends Error {
  readonly code = 'ENETLINKCLOSED';

  constructor(message = 'the netlink socket was closed before the kernel answered') {
    super(message);
    this.name = 'NetlinkClosedError';
  }
}

/** requestSync found no answer queued after its send: the kernel handles this request asynchronously. */
export class NetlinkNoReplyError extends Error {
  readonly code = 'ENETLINKNOREPLY';

  constructor(message: string) {
    super(message);
    this.name = 'NetlinkNoReplyError';
  }
}
