// notify_fifo / vrrp_notify_fifo / lvs_notify_fifo: one line per transition, `INSTANCE "VI_1" MASTER 150`
// (or `GROUP "G" MASTER 0`) from VRRP, `RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 UP` and
// `VS [10.0.0.1]:tcp:80 DOWN` from LVS, in order, for a reader that keepalived users already have.
// Created with mkfifo (mode 0644, owned by the reader script's user, removed at close) when
// missing; opened read-write and non-blocking, so a missing or slow reader never stalls anything
// (lines are dropped and counted instead). A path is opened once per process: VRRP and LVS share it
// through NotifyFifos. The optional reader script is started, as its user, with the FIFO's path
// appended, and stopped with the last writer.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, constants, existsSync, fstatSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { resolveIdentity } from '../../checkers/script-identity.js';
import type { Fifo } from '../config/model.js';

export class NotifyFifoError extends Error {
  readonly code = 'ENOTIFYFIFO';
}

export function fifoLine(name: string, state: string, priority: number, kind: 'INSTANCE' | 'GROUP' = 'INSTANCE'): string {
  return `${kind} "${name}" ${state} ${priority}\n`;
}

// keepalived's checker process also writes each LVS line's C string terminator (a NUL after the
// newline), which line readers drop or warn about; ipvsd writes the lines alone.

/** keepalived's `VS <vs> UP|DOWN`; `vs` as lvsServiceName formats it. */
export function virtualServerFifoLine(vs: string, up: boolean): string {
  return `VS ${vs} ${up ? 'UP' : 'DOWN'}\n`;
}

/** keepalived's `RS <rs> <vs> UP|DOWN`. */
export function realServerFifoLine(rs: string, vs: string, up: boolean): string {
  return `RS ${rs} ${vs} ${up ? 'UP' : 'DOWN'}\n`;
}

/** One open FIFO file and its reader, written by every handle on its path. */
class FifoFile {
  dropped = 0;
  written = 0;
  users = 0;

  constructor(
    readonly path: string,
    private fd: number | undefined,
    private readonly created: boolean,
    private readonly reader: ChildProcess | undefined,
  ) {}

  write(line: string): boolean {
    if (this.fd === undefined) return false;
    try {
      writeSync(this.fd, line);
      this.written++;
      return true;
    } catch {
      this.dropped++; // EAGAIN: the pipe is full because nobody reads it
      return false;
    }
  }

  close(): void {
    // Unlinked first, as keepalived does, so a reader that loops reopening the path cannot.
    if (this.created) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.reader && this.reader.exitCode === null && this.reader.signalCode === null && this.reader.pid !== undefined) {
      try {
        process.kill(-this.reader.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }

  static open(fifo: Fifo): FifoFile {
    const identity = fifo.script ? identityOf(fifo) : undefined;
    let created = false;
    if (!existsSync(fifo.path)) {
      try {
        execFileSync('mkfifo', ['-m', '0644', fifo.path], { stdio: 'ignore' });
        created = true;
      } catch {
        throw new NotifyFifoError(`cannot create the notify FIFO ${fifo.path}`);
      }
      if (identity) chownSync(fifo.path, identity.uid, identity.gid);
    }
    // O_RDWR: open never waits for a reader (Linux), and writes never fail with EPIPE.
    // O_NOFOLLOW: a symbolic link planted at the path is refused, not followed.
    let fd: number;
    try {
      fd = openSync(fifo.path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch (err) {
      throw new NotifyFifoError(`cannot open the notify FIFO ${fifo.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (!fstatSync(fd).isFIFO()) {
      closeSync(fd);
      throw new NotifyFifoError(`${fifo.path} exists and is not a FIFO`);
    }
    let reader: ChildProcess | undefined;
    const [file, ...args] = fifo.script?.argv ?? [];
    if (file !== undefined) {
      // detached: its own process group, so stopping it stops what it started.
      reader = spawn(file, [...args, fifo.path], { stdio: 'ignore', detached: true, ...identity });
      reader.on('error', () => {}); // a missing reader script must not end the daemon
      reader.unref();
    }
    return new FifoFile(fifo.path, fd, created, reader);
  }
}

function identityOf(fifo: Fifo): { uid: number; gid: number } | undefined {
  try {
    return resolveIdentity(fifo.script!.user, fifo.script!.group);
  } catch (err) {
    throw new NotifyFifoError(`the reader script of ${fifo.path}: ${(err as Error).message}`);
  }
}

/** The FIFOs this process has open, by path: a path named by both VRRP and LVS is opened once. */
export class NotifyFifos {
  readonly #files = new Map<string, FifoFile>();

  open(fifo: Fifo): NotifyFifo {
    let file = this.#files.get(fifo.path);
    if (!file) {
      file = FifoFile.open(fifo);
      this.#files.set(fifo.path, file);
    }
    file.users++;
    return new NotifyFifo(file, () => {
      if (--file.users > 0) return;
      file.close();
      this.#files.delete(file.path);
    });
  }

  /** How many FIFO files are open (a shared path counts once). */
  get size(): number {
    return this.#files.size;
  }
}

/** One writer's handle on a FIFO; closing the last handle on a path closes the FIFO. */
export class NotifyFifo {
  #closed = false;

  constructor(
    private readonly file: FifoFile,
    private readonly release: () => void,
  ) {}

  /** A FIFO of its own, shared with nobody. */
  static open(fifo: Fifo, shared: NotifyFifos = new NotifyFifos()): NotifyFifo {
    return shared.open(fifo);
  }

  get path(): string {
    return this.file.path;
  }

  /** Lines written to the file by every writer on this path. */
  get written(): number {
    return this.file.written;
  }

  /** Lines dropped because the pipe was full, by every writer on this path. */
  get dropped(): number {
    return this.file.dropped;
  }

  write(line: string): void {
    if (!this.#closed) this.file.write(line);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.release();
  }
}
