// ipvsd --tcp-half-open in the real kernel: TCP_CHECK by SYN probes keeps a listening real server
// and removes one whose port refuses, as the connect probe does.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IpvsdProcess, tableBecomes } from '../lab/ipvsd-process.js';
import { assertInGuest } from '../lab/netns.js';

let scratch: string;
let listener: Server;

beforeAll(async () => {
  assertInGuest();
  scratch = mkdtempSync(join(tmpdir(), 'ipvsd-half-open-'));
  listener = createServer((s) => s.destroy());
  await new Promise<void>((r) => listener.listen(8080, '127.0.0.41', r));
  const rs = (n: number) => `  real_server 127.0.0.${n} 8080 {\n    TCP_CHECK {\n      connect_timeout 1\n      retry 0\n    }\n  }\n`;
  writeFileSync(
    join(scratch, 'keepalived.conf'),
    `virtual_server 10.96.0.1 80 {\n  delay_loop 1\n  lb_algo rr\n  protocol TCP\n  alpha\n${rs(41)}${rs(42)}}\n`,
  );
});
afterAll(() => {
  listener.close();
  rmSync(scratch, { recursive: true, force: true });
});

it('keeps the listening server and leaves out the refusing one', async () => {
  const daemon = new IpvsdProcess(['-f', join(scratch, 'keepalived.conf'), '--tcp-half-open', '--socket', join(scratch, 'sock'), '--metrics-listen', 'none']);
  try {
    await daemon.waitForEvent('started', 0, 20_000);
    await tableBecomes(['-A -t 10.96.0.1:80 -s rr', '-a -t 10.96.0.1:80 -r 127.0.0.41:8080 -m -w 1'], 8000);
    const up = await daemon.waitForEvent('real-server-up', 0, 5000);
    expect(String(up.reason)).toContain('SYN-ACK received (half-open)');
  } finally {
    await daemon.stop();
  }
});
