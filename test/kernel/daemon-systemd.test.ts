// ipvsd under systemd's Type=notify contract, in the real kernel: READY=1 once the table and the
// control socket are up, RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM, and
// watchdog pings while the loop is healthy.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AF_UNIX, sockaddrUnix } from '../../src/daemon/systemd.js';
import { NativeSocket, SOCK_DGRAM } from '../../src/native/index.js';
import { IpvsdProcess, sleep, until, waitFactor } from '../lab/ipvsd-process.js';
import { assertInGuest } from '../lab/netns.js';

let scratch: string;
let socket: NativeSocket;
const messages: string[] = [];

beforeAll(() => {
  assertInGuest();
  scratch = mkdtempSync(join(tmpdir(), 'ipvsd-systemd-'));
  socket = NativeSocket.open(AF_UNIX, SOCK_DGRAM, 0);
  socket.bind(sockaddrUnix(join(scratch, 'notify')));
  socket.on('messages', (batch: { data: Buffer }[]) => {
    for (const m of batch) messages.push(m.data.toString());
  });
  socket.start();
  writeFileSync(
    join(scratch, 'keepalived.conf'),
    'virtual_server 10.97.0.1 80 {\n  lb_algo rr\n  protocol TCP\n  real_server 127.0.0.31 8080 {\n    weight 1\n  }\n}\n',
  );
});
afterAll(() => {
  socket.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function waitFor(text: string, timeoutMs: number): Promise<void> {
  if (!(await until(() => messages.some((m) => m.includes(text)), timeoutMs))) {
    throw new Error(`no "${text}" from ipvsd within ${timeoutMs * waitFactor} ms; got ${JSON.stringify(messages)}`);
  }
}

it('tells systemd it is ready, reloading and stopping, and pings the watchdog', async () => {
  const daemon = new IpvsdProcess(['-f', join(scratch, 'keepalived.conf'), '--socket', join(scratch, 'ipvsd.sock'), '--metrics-listen', 'none'], {
    NOTIFY_SOCKET: join(scratch, 'notify'),
    WATCHDOG_USEC: '400000',
  });
  try {
    await waitFor('READY=1', 20_000);
    await waitFor('WATCHDOG=1', 2000);
    daemon.child.kill('SIGHUP');
    await waitFor('RELOADING=1', 5000);
    await sleep(500);
    expect(messages.filter((m) => m.includes('READY=1')).length).toBeGreaterThanOrEqual(2);
    await daemon.stop();
    await waitFor('STOPPING=1', 2000);
  } finally {
    await daemon.stop();
  }
});
