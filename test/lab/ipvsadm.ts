// The reference client, for kernel tests: what the real ipvsadm sees.
import { execFileSync } from 'node:child_process';

export function ipvsadm(...args: string[]): string {
  return execFileSync('ipvsadm', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** `ipvsadm -Sn`, one rule a line, sorted (the form `formatRules` and `ipvsd --plan` print). */
export function savedRules(): string[] {
  return ipvsadm('-Sn').split('\n').filter(Boolean).sort();
}
