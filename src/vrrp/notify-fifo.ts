// notify_fifo / vrrp_notify_fifo: one line per transition, `INSTANCE "VI_1" MASTER 150` (or `GROUP "G" MASTER 0`), in order,
// for a reader that keepalived users already have. Created with mkfifo when missing; opened
// read-write and non-blocking, so a missing or slow reader never stalls VRRP (lines are dropped
// and counted instead). An optional reader script is started with the FIFO's path and stopped with us.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, statSync, writeSync } from 'node:fs';
import type { Fifo } from '../config/model.js';

export class NotifyFifoError extends Error {
  readonly code = 'ENOTIFYFIFO';
}

export function fifoLine(name: string, state: string, priority: number, kind: 'INSTANCE' | 'GROUP' = 'INSTANCE'): string {
  return `${kind} "${name}" ${state} ${priority}\n`;
}

export class NotifyFifo {
  dropped = 0;
  written = 0;

  private constructor(
    readonly path: string,
    private fd: number | undefined,
    private readonly reader: ChildProcess | undefined,
  ) {}

  static open(fifo: Fifo): NotifyFifo {
    if (!existsSync(fifo.path)) {
      try {
        execFileSync('mkfifo', ['-m', '0600', fifo.path], { stdio: 'ignore' });
      } catch {
        throw new NotifyFifoError(`cannot create the notify FIFO ${fifo.path}`);
      }
    }
    if (!statSync(fifo.path).isFIFO()) throw new NotifyFifoError(`${fifo.path} exists and is not a FIFO`);
    // O_RDWR: open never waits for a reader (Linux), and writes never fail with EPIPE.
    const fd = openSync(fifo.path, constants.O_RDWR | constants.O_NONBLOCK);
    let reader: ChildProcess | undefined;
    if (fifo.script) {
      const [file, ...args] = fifo.script.argv;
      if (file !== undefined) {
        reader = spawn(file, [...args, fifo.path], { stdio: 'ignore' });
        reader.on('error', () => {}); // a missing reader script must not end the daemon
      }
    }
    return new NotifyFifo(fifo.path, fd, reader);
  }

  write(line: string): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, line);
      this.written++;
    } catch {
      this.dropped++; // EAGAIN: the pipe is full because nobody reads it
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.reader && this.reader.exitCode === null) this.reader.kill('SIGTERM');
  }
}
