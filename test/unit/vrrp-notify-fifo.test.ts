import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fifoLine, NotifyFifo, NotifyFifoError } from '../../src/vrrp/notify-fifo.js';

const dir = mkdtempSync(join(tmpdir(), 'ipvsd-fifo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('NotifyFifo', () => {
  it('formats lines as keepalived does', () => {
    expect(fifoLine('VI_1', 'MASTER', 150)).toBe('INSTANCE "VI_1" MASTER 150\n');
  });

  it('creates the FIFO, writes lines in order without a reader, and a reader gets them', () => {
    const path = join(dir, 'vrrp.fifo');
    const fifo = NotifyFifo.open({ path, script: undefined });
    expect(statSync(path).isFIFO()).toBe(true);
    fifo.write(fifoLine('VI_1', 'BACKUP', 100));
    fifo.write(fifoLine('VI_1', 'MASTER', 100));
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf);
    closeSync(fd);
    fifo.close();
    expect(buf.subarray(0, n).toString()).toBe('INSTANCE "VI_1" BACKUP 100\nINSTANCE "VI_1" MASTER 100\n');
    expect(fifo.written).toBe(2);
  });

  it('drops and counts lines once the pipe is full instead of blocking', () => {
    const path = join(dir, 'full.fifo');
    execFileSync('mkfifo', [path]);
    const fifo = NotifyFifo.open({ path, script: undefined });
    const line = `${'x'.repeat(4000)}\n`;
    for (let i = 0; i < 40; i++) fifo.write(line); // 160 KB > the 64 KB pipe buffer
    fifo.close();
    expect(fifo.dropped).toBeGreaterThan(0);
    expect(fifo.written + fifo.dropped).toBe(40);
  });

  it('refuses a path that is not a FIFO', () => {
    const path = join(dir, 'plain');
    writeFileSync(path, '');
    expect(() => NotifyFifo.open({ path, script: undefined })).toThrow(NotifyFifoError);
  });
});
