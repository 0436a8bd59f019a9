// The socket side of an HTTP probe: undici's connect hook doing our own net/tls connect, and the
// per-step timer that applies connect_timeout to each read.
import net from 'node:net';
import tls from 'node:tls';
import type { buildConnector } from 'undici';
import type { SocketTarget } from './connection.js';

export class StepTimeoutError extends Error {
  readonly code = 'ERR_CHECK_STEP_TIMEOUT';
  override readonly name = 'StepTimeoutError';
}

/** Aborts a request when one read step takes longer than connect_timeout. */
export class StepTimer {
  readonly #controller = new AbortController();
  readonly #step: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(step: () => number) {
    this.#step = step;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  arm(what: string): void {
    clearTimeout(this.#timer);
    const ms = this.#step();
    this.#timer = setTimeout(() => this.#controller.abort(new StepTimeoutError(`${what} within ${Math.round(ms)} ms`)), ms);
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}

/**
 * undici's connect hook: our own net/tls connect, so bindto, bind_port, SNI and timeouts are ours.
 * `onTlsError` hears the first error after the handshake: undici replaces a TLS alert (a refused
 * client certificate arrives as one) with "other side closed" when the socket ends after it.
 */
export function connector(
  target: SocketTarget,
  tlsOptions: tls.ConnectionOptions | undefined,
  step: () => number,
  onConnected: () => void,
  onTlsError: (err: Error) => void = () => {},
): buildConnector.connector {
  return (_options, callback) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let socket: net.Socket;
    const settle = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('error', settle);
      if (err === null) {
        onConnected();
        callback(null, socket);
      } else {
        socket.destroy();
        callback(err, null);
      }
    };
    const arm = (what: string): void => {
      clearTimeout(timer);
      const ms = step();
      timer = setTimeout(() => settle(new StepTimeoutError(`${what} not done within ${Math.round(ms)} ms`)), ms);
    };
    arm('TCP connect');
    try {
      socket = net.connect(target);
    } catch (err) {
      socket = new net.Socket();
      settle(err as Error);
      return;
    }
    socket.once('error', settle);
    socket.once('connect', () => {
      if (tlsOptions === undefined) return settle(null);
      socket.removeListener('error', settle);
      arm('TLS handshake');
      // host makes certificate verification check the address when there is no SNI name.
      const secure = tls.connect({ host: target.host, ...tlsOptions, socket });
      socket = secure;
      secure.once('error', settle);
      secure.once('secureConnect', () => {
        secure.once('error', onTlsError);
        settle(null);
      });
    });
  };
}
