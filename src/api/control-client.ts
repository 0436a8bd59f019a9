// ipvsctl's side of the control socket: one HTTP request over the Unix socket per call.
import { request } from 'node:http';
import type { StatusSnapshot } from '../daemon/status.js';
import type { ErrorAnswer, OverrideAnswer, OverrideRequest, ReloadAnswer } from './control-protocol.js';

/** Nobody answers on the socket (no file, refused, or not allowed to connect). */
export class ControlUnreachableError extends Error {
  constructor(
    readonly code: string,
    readonly path: string,
  ) {
    const why = code === 'EACCES' ? 'permission denied (run ipvsctl as root, or as the user ipvsd runs as)' : 'is it running?';
    super(`cannot reach ipvsd at ${path}: ${why}`);
    this.name = 'ControlUnreachableError';
  }
}

/** The daemon refused the request; `message` is its sentence. */
export class ControlAnswerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControlAnswerError';
  }
}

export class ControlClient {
  constructor(
    readonly path: string,
    private readonly timeoutMs = 30_000,
  ) {}

  status(): Promise<StatusSnapshot> {
    return this.#call('GET', '/v1/status');
  }

  reload(): Promise<ReloadAnswer> {
    return this.#call('POST', '/v1/reload');
  }

  override(body: OverrideRequest): Promise<OverrideAnswer> {
    return this.#call('POST', '/v1/overrides', body);
  }

  setLogLevel(level: string): Promise<{ level: string }> {
    return this.#call('PUT', '/v1/log-level', { level });
  }

  #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.path,
          method,
          path,
          headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
          timeout: this.timeoutMs,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              reject(new ControlAnswerError('EBADANSWER', `ipvsd answered something that is not JSON (HTTP ${res.statusCode})`));
              return;
            }
            if ((res.statusCode ?? 500) >= 400) {
              const e = parsed as Partial<ErrorAnswer>;
              reject(new ControlAnswerError(e.code ?? 'EUNKNOWN', e.error ?? `HTTP ${res.statusCode}`));
            } else resolve(parsed as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new ControlAnswerError('ETIMEDOUT', `ipvsd did not answer within ${this.timeoutMs / 1000} s`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof ControlAnswerError) reject(err);
        else if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'EACCES' || err.code === 'ENOTSOCK') reject(new ControlUnreachableError(err.code, this.path));
        else reject(new ControlAnswerError(err.code ?? 'EIO', `talking to ipvsd at ${this.path} failed: ${err.message}`));
      });
      req.end(payload);
    });
  }
}
