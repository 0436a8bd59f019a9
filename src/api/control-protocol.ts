// What travels over the control socket: paths, request bodies and answers, shared by the daemon's
// server and ipvsctl. JSON both ways; an error answer is `{ error, code }` with a 4xx/5xx status.
import type { StatusSnapshot } from '../daemon/status.js';

export const defaultSocketPath = '/run/ipvsd/ipvsd.sock';

export type OverrideAction = 'drain' | 'enable' | 'disable' | 'weight';

export interface OverrideRequest {
  action: OverrideAction;
  virtualServer: string;
  realServer: string;
  weight?: number;
}

export interface OverrideAnswer {
  virtualServer: string;
  realServer: string;
  /** What the real server is now, in words (`drained`, `weight 5`, `no override`). */
  now: string;
}

export interface ReloadAnswer {
  ok: boolean;
  errors: string[];
}

export interface ErrorAnswer {
  error: string;
  code: string;
}

/** The daemon side of the API; the server only routes to it. */
export interface ControlTarget {
  status(): StatusSnapshot | Promise<StatusSnapshot>;
  reload(): Promise<ReloadAnswer>;
  /** Throws an error with a `code` (unknown server, bad weight) that the client shows as it is. */
  override(request: OverrideRequest): OverrideAnswer;
  setLogLevel(level: string): void;
}

export class ControlRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControlRequestError';
  }
}
