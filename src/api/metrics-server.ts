// The Prometheus endpoint: GET /metrics on HOST:PORT (loopback unless told otherwise).
import { createServer, type Server } from 'node:http';
import type { StatusMetrics } from './metrics.js';
import { MetricsListenError } from './metrics-listen.js';

/** Prometheus's text exposition format (prom-client's Registry.PROMETHEUS_CONTENT_TYPE). */
const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

/** What the endpoint renders: the metrics, or a promise of them that the first scrape waits for. */
export type MetricsSource = Pick<StatusMetrics, 'render'>;

export class MetricsServer {
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async listen(host: string, port: number, metrics: MetricsSource): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('ipvsd serves Prometheus metrics at /metrics\n');
        return;
      }
      // Streamed as it is rendered (chunked); an error after the first chunk can only cut the body short.
      metrics
        .render((chunk) => {
          if (!res.headersSent) res.writeHead(200, { 'content-type': prometheusContentType });
          res.write(chunk);
        })
        .then(
          () => res.end(),
          (err: unknown) => {
            if (res.headersSent) res.destroy();
            else res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err instanceof Error ? err.message : String(err)}\n`);
          },
        );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new MetricsListenError(`cannot serve metrics on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'the address is in use' : err.message}`)),
      );
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    return new MetricsServer(server, typeof address === 'object' && address ? address.port : port);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
