// Whether a process is one a vrrp_track_process counts, as keepalived decides it: the name in
// /proc/PID/comm equals `process` exactly (no pattern, unlike pgrep), or with full_command argv[0]
// of /proc/PID/cmdline does, and then the arguments are compared per param_match.
import type { VrrpTrackProcess } from '../config/model.js';

/** What /proc says about one process. */
export interface ProcessIdentity {
  /** /proc/PID/comm without its newline. */
  comm: string;
  /** /proc/PID/cmdline as read: NUL-terminated arguments; undefined when it was not read. */
  cmdline: Buffer | undefined;
}

export type ProcessPattern = Pick<VrrpTrackProcess, 'process' | 'params' | 'paramMatch' | 'fullCommand'>;

/** A pattern with its configured arguments encoded as cmdline bytes, once. */
export interface CompiledPattern {
  pattern: ProcessPattern;
  params: Buffer;
}

export function compilePattern(pattern: ProcessPattern): CompiledPattern {
  return { pattern, params: Buffer.from(pattern.params.map((p) => `${p}\0`).join('')) };
}

export function processMatches(compiled: CompiledPattern, identity: ProcessIdentity): boolean {
  const { pattern, params } = compiled;
  if (!pattern.fullCommand) return identity.comm === pattern.process;
  const cmdline = identity.cmdline;
  if (!cmdline) return false;
  const end = cmdline.indexOf(0);
  const argv0 = cmdline.subarray(0, end < 0 ? cmdline.length : end).toString();
  if (argv0 !== pattern.process) return false;
  if (pattern.paramMatch === 'none') return true;
  const actual = end < 0 ? Buffer.alloc(0) : cmdline.subarray(end + 1);
  return paramsMatch(pattern.paramMatch, params, actual);
}

/**
 * exact: the same arguments; partial: the configured ones are the first arguments; initial: the
 * same, except that the last configured one need only be the start of that argument.
 */
function paramsMatch(kind: 'exact' | 'initial' | 'partial', configured: Buffer, actual: Buffer): boolean {
  if (kind === 'exact') return actual.equals(configured);
  if (actual.length < configured.length) return false;
  const compared = kind === 'initial' ? configured.subarray(0, Math.max(0, configured.length - 1)) : configured;
  return actual.subarray(0, compared.length).equals(compared);
}
