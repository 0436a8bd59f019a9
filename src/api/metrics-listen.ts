// Where the metrics endpoint listens, parsed without loading prom-client (ipvsd -t stays fast).

/** ipvsd's default: loopback only, port 9477. */
export const defaultMetricsListen = { host: '127.0.0.1', port: 9477 };

export class MetricsListenError extends Error {
  readonly code = 'EMETRICSLISTEN';
}

/** `HOST:PORT`, `[::1]:PORT` or `PORT` (loopback); `none` turns the endpoint off (undefined). */
export function parseListen(text: string): { host: string; port: number } | undefined {
  if (text === 'none' || text === 'off') return undefined;
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]*):)?(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new MetricsListenError(`"${text}" is not HOST:PORT (e.g. 127.0.0.1:9477), PORT or none`);
  return { host: m[1] ?? (m[2] || defaultMetricsListen.host), port };
}
