// The contract every checker module implements, and the small pieces they all build results from.
import { performance } from 'node:perf_hooks';
import type { ProbeResult } from '../src/health/probe.js';

export type { ProbeResult };

export interface Probe {
  /** Identical probes share one key: the target and everything that changes what is sent or accepted. */
  readonly key: string;
  /** What is probed, e.g. "TCP connect to 10.0.0.2:80". */
  describe(): string;
  /** Settles by `deadline` (performance.now() milliseconds); never rejects. */
  run(deadline: number): Promise<ProbeResult>;
  /** Releases what is held between runs (shared sockets, file watchers). */
  close?(): void;
}

/** One run of a probe: its start time and label, so every result says what, why and how long. */
export class Attempt {
  readonly start = performance.now();

  constructor(readonly label: string) {}

  ok(detail: string, weightAdjust?: number): ProbeResult {
    const result: ProbeResult = { ok: true, reason: `${this.label}: ${detail}`, durationMs: this.elapsed() };
    if (weightAdjust !== undefined) result.weightAdjust = weightAdjust;
    return result;
  }

  /** `hard` only for an active refusal (RST, ICMP unreachable), never for a timeout. */
  fail(detail: string, hard = false): ProbeResult {
    const result: ProbeResult = { ok: false, reason: `${this.label}: ${detail}`, durationMs: this.elapsed() };
    if (hard) result.hard = true;
    return result;
  }

  elapsed(): number {
    return performance.now() - this.start;
  }
}

/** Milliseconds left for one step: connect_timeout, cut short by the overall deadline. */
export function stepTimeout(connectTimeoutMs: number, deadline: number): number {
  return Math.max(0, Math.min(connectTimeoutMs, deadline - performance.now()));
}

const refusals = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EPROTO']);

const errnoWords: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host is down',
  ENETDOWN: 'network is down',
  ETIMEDOUT: 'timed out',
  EADDRINUSE: 'local address already in use',
  EADDRNOTAVAIL: 'local address not available',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EPIPE: 'connection closed by peer',
};

/** An operating-system error in an operator's words, and whether it is an active refusal. */
export function describeError(err: unknown): { detail: string; hard: boolean } {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in errnoWords) return { detail: errnoWords[code]!, hard: refusals.has(code) };
  const message = err instanceof Error ? err.message : String(err);
  return { detail: message, hard: typeof code === 'string' && refusals.has(code) };
}

/** "10.0.0.2:80" or "[::1]:80". */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A stable key from the probe type and the parts of its spec that change what is sent or accepted. */
export function probeKey(type: string, parts: unknown): string {
  return `${type} ${JSON.stringify(parts)}`;
}
