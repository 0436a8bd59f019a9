// TCP listeners on guest loopback addresses (127.0.0.N:8080) that accept and close at once: what a
// TCP_CHECK needs to pass, and nothing more.
import { createServer, type Server } from 'node:net';

export function listenLoopback(n: number, port = 8080): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, `127.0.0.${n}`, () => resolve(server));
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Listeners by host number, so a test can take one real server down and bring it back. */
export class LoopbackListeners {
  readonly #servers = new Map<number, Server>();

  async open(n: number): Promise<void> {
    this.#servers.set(n, await listenLoopback(n));
  }

  async close(n: number): Promise<void> {
    const server = this.#servers.get(n);
    this.#servers.delete(n);
    if (server) await closeServer(server);
  }

  async closeAll(): Promise<void> {
    for (const n of [...this.#servers.keys()]) await this.close(n);
  }
}
