// The control socket against a fake daemon over a real Unix socket in a temp dir: mode 0600,
// routes, error answers, a busy socket refused, a stale one replaced.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlAnswerError, ControlClient, ControlUnreachableError } from '../../src/api/control-client.js';
import { ControlRequestError, type ControlTarget, type OverrideRequest } from '../../src/api/control-protocol.js';
import { ControlServer, ControlSocketError } from '../../src/api/control-server.js';
import { fakeDaemon, webConfig } from './api-status-source.js';

let dir: string;
let path: string;
let server: ControlServer | undefined;
const requests: OverrideRequest[] = [];
const levels: string[] = [];

const target: ControlTarget = {
  status: () => fakeDaemon(webConfig(2)).status.snapshot(),
  reload: async () => ({ ok: false, errors: ['keepalived.conf:4:5: error: unknown keyword `bogus`'] }),
  override: (r) => {
    if (r.realServer === '10.9.9.9:80') throw new ControlRequestError('ENOREALSERVER', `tcp 10.99.0.100:80 has no real server ${r.realServer}`);
    requests.push(r);
    return { virtualServer: 'tcp 10.99.0.100:80', realServer: r.realServer, now: 'drained' };
  },
  setLogLevel: (level) => {
    if (level === 'loud') throw new ControlRequestError('EBADLEVEL', 'unknown log level `loud`');
    levels.push(level);
  },
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-api-'));
  path = join(dir, 'run', 'ipvsd.sock');
  requests.length = 0;
  levels.length = 0;
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('control server', () => {
  it('listens with mode 0600 in a directory it creates, and answers status', async () => {
    server = await ControlServer.listen(path, target);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).isSocket()).toBe(true);
    const status = await new ControlClient(path).status();
    expect(status.virtualServers.map((v) => v.name)).toEqual(['tcp 10.99.0.100:80']);
    expect(status.virtualServers[0]!.realServers).toHaveLength(2);
  });

  it('routes overrides, reload and log level, and turns refusals into error answers', async () => {
    server = await ControlServer.listen(path, target);
    const client = new ControlClient(path);
    expect(await client.override({ action: 'drain', virtualServer: '10.99.0.100:80', realServer: '10.1.0.1:8080' })).toEqual({
      virtualServer: 'tcp 10.99.0.100:80',
      realServer: '10.1.0.1:8080',
      now: 'drained',
    });
    expect(requests).toEqual([{ action: 'drain', virtualServer: '10.99.0.100:80', realServer: '10.1.0.1:8080' }]);
    await expect(client.override({ action: 'drain', virtualServer: '10.99.0.100:80', realServer: '10.9.9.9:80' })).rejects.toMatchObject({
      code: 'ENOREALSERVER',
      message: 'tcp 10.99.0.100:80 has no real server 10.9.9.9:80',
    });
    expect(await client.reload()).toEqual({ ok: false, errors: ['keepalived.conf:4:5: error: unknown keyword `bogus`'] });
    expect(await client.setLogLevel('debug')).toEqual({ level: 'debug' });
    expect(levels).toEqual(['debug']);
    await expect(client.setLogLevel('loud')).rejects.toBeInstanceOf(ControlAnswerError);
  });

  it('refuses a socket another process answers on', async () => {
    server = await ControlServer.listen(path, target);
    await expect(ControlServer.listen(path, target)).rejects.toMatchObject({
      code: 'EBUSY',
      message: `another ipvsd is already running (its control socket ${path} answers)`,
    });
  });

  it('replaces a stale socket file nobody listens on (a daemon killed with SIGKILL)', async () => {
    const stale = join(dir, 'stale.sock');
    const killed = spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(killed.signal).toBe('SIGKILL');
    expect(statSync(stale).isSocket()).toBe(true);
    server = await ControlServer.listen(stale, target);
    expect((await new ControlClient(stale).status()).pid).toBe(process.pid);
  });

  it('a client without a daemon gets ControlUnreachableError with the path', async () => {
    const err = await new ControlClient(path).status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlUnreachableError);
    expect((err as Error).message).toBe(`cannot reach ipvsd at ${path}: is it running?`);
  });

  it('ControlSocketError says why it cannot listen', async () => {
    writeFileSync(join(dir, 'file'), '');
    const err = await ControlServer.listen(join(dir, 'file', 'sock'), target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlSocketError);
    expect((err as ControlSocketError).code).toBe('ELISTEN');
  });
});
