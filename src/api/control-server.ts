// The control socket: HTTP over a Unix socket (mode 0600), JSON, for ipvsctl. A socket another
// ipvsd still answers on is refused; a stale one (nobody listening) is replaced.
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { ControlRequestError, type ControlTarget, type ErrorAnswer, type OverrideRequest } from './control-protocol.js';

export class ControlSocketError extends Error {
  constructor(
    readonly code: 'EBUSY' | 'ELISTEN',
    message: string,
  ) {
    super(message);
    this.name = 'ControlSocketError';
  }
}

/** Whether something answers on `path`: true (busy), false (no file, or a stale one). */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Throws EBUSY when another ipvsd answers on `path`. */
export async function assertSocketFree(path: string): Promise<void> {
  if (await socketInUse(path)) throw new ControlSocketError('EBUSY', `another ipvsd is already running (its control socket ${path} answers)`);
}

const maxBody = 64 * 1024;

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > maxBody) reject(new ControlRequestError('ETOOBIG', 'request body too large'));
    });
    req.on('end', () => {
      try {
        resolve(text ? JSON.parse(text) : {});
      } catch {
        reject(new ControlRequestError('EBADJSON', 'request body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function fail(res: ServerResponse, err: unknown): void {
  if (err instanceof ControlRequestError) {
    send(res, err.code === 'ENOTFOUND' ? 404 : 400, { error: err.message, code: err.code } satisfies ErrorAnswer);
    return;
  }
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  // Errors with a code (unknown server, bad address) are the user's; anything else is ours.
  send(res, typeof code === 'string' ? 400 : 500, { error: message, code: typeof code === 'string' ? code : 'EINTERNAL' } satisfies ErrorAnswer);
}

async function route(target: ControlTarget, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const method = req.method ?? 'GET';
  if (method === 'GET' && path === '/v1/status') return send(res, 200, await target.status());
  if (method === 'POST' && path === '/v1/reload') return send(res, 200, await target.reload());
  if (method === 'POST' && path === '/v1/overrides') {
    const body = (await readBody(req)) as Partial<OverrideRequest>;
    if (typeof body.virtualServer !== 'string' || typeof body.realServer !== 'string' || typeof body.action !== 'string') {
      throw new ControlRequestError('EBADREQUEST', 'an override needs action, virtualServer and realServer');
    }
    return send(res, 200, target.override(body as OverrideRequest));
  }
  if (method === 'PUT' && path === '/v1/log-level') {
    const body = (await readBody(req)) as { level?: unknown };
    if (typeof body.level !== 'string') throw new ControlRequestError('EBADREQUEST', 'log-level needs a level');
    target.setLogLevel(body.level);
    return send(res, 200, { level: body.level });
  }
  throw new ControlRequestError('ENOTFOUND', `no such request: ${method} ${path}`);
}

export class ControlServer {
  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  /** Listens on `path` (its directory made if missing); EBUSY when another ipvsd answers there. */
  static async listen(path: string, target: ControlTarget, mode = 0o600): Promise<ControlServer> {
    await assertSocketFree(path);
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      unlinkSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new ControlSocketError('ELISTEN', `cannot create the control socket ${path}: ${(err as Error).message}`);
    }
    const server = createServer((req, res) => {
      route(target, req, res).catch((err: unknown) => fail(res, err));
    });
    // The file is created with the umask's mode; narrow the umask so it is never wider than `mode`.
    const umask = process.umask(0o777 & ~mode);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new ControlSocketError('ELISTEN', `cannot listen on the control socket ${path}: ${(err as Error).message}`);
    } finally {
      process.umask(umask);
    }
    chmodSync(path, mode);
    return new ControlServer(path, server);
  }

  /** Stops listening and removes the socket file. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone (node removes it on close on some versions).
    }
  }
}
