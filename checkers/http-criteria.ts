// What makes an HTTP response acceptable: status set, body digest, body regex, expected header.
// Pure: no sockets, so every criterion is tested on its own.
import { createHash, type Hash } from 'node:crypto';
import type { HttpUrl } from '../src/config/model.js';

export type StatusRanges = ReadonlyArray<{ from: number; to: number }>;

const defaultStatus: StatusRanges = [{ from: 200, to: 299 }];

export function statusAccepted(status: number, ranges: StatusRanges): boolean {
  const set = ranges.length === 0 ? defaultStatus : ranges;
  return set.some((r) => status >= r.from && status <= r.to);
}

export function describeStatusRanges(ranges: StatusRanges): string {
  const set = ranges.length === 0 ? defaultStatus : ranges;
  return set.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(',');
}

/** The body regex window when no offsets are set; keepalived's is 4 KiB, ours is wider. */
export const REGEX_WINDOW = 64 * 1024;

/**
 * MD5 over the body as genhash computes it: the bytes as they arrive, stopped at Content-Length.
 * Also keeps the start of the body for the regex.
 */
export class BodyDigest {
  readonly #hash: Hash | undefined;
  readonly #limit: number;
  readonly #keep: number;
  #length = 0;
  readonly #kept: Buffer[] = [];
  #keptLength = 0;

  constructor(opts: { digest: boolean; contentLength: number | undefined; keepBytes: number }) {
    this.#hash = opts.digest ? createHash('md5') : undefined;
    this.#limit = opts.contentLength ?? Infinity;
    this.#keep = opts.keepBytes;
  }

  update(chunk: Buffer): void {
    const room = this.#limit - this.#length;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#length += part.length;
    this.#hash?.update(part);
    if (this.#keptLength < this.#keep) {
      const take = part.subarray(0, this.#keep - this.#keptLength);
      this.#kept.push(take);
      this.#keptLength += take.length;
    }
  }

  get length(): number {
    return this.#length;
  }

  /** Lower-case hex MD5, or undefined when no digest was asked for. */
  digest(): string | undefined {
    return this.#hash?.digest('hex');
  }

  kept(): Buffer {
    return Buffer.concat(this.#kept, this.#keptLength);
  }
}

export class RegexError extends Error {
  readonly code = 'ERR_CHECKER_REGEX';
  override readonly name = 'RegexError';
}

// PCRE2 option names (keepalived's regex_options) that have a JavaScript flag.
const optionFlags: Record<string, string> = { caseless: 'i', dotall: 's', multiline: 'm', utf: 'u', ucp: 'u' };

/**
 * A JavaScript RegExp from a PCRE pattern. Translated: leading inline flags `(?i)` `(?s)` `(?m)`,
 * `(?P<name>` and `(?P=name)`, `\A`, `\z`, `\Z`. Not available in JavaScript: possessive
 * quantifiers, atomic groups, recursion, callouts, and inline flags after the start; a pattern
 * using them fails to compile and is reported as such. Options other than caseless, dotall,
 * multiline, utf and ucp are refused.
 */
export function compilePcre(pattern: string, options: readonly string[] = []): RegExp {
  let flags = '';
  for (const option of options) {
    const flag = optionFlags[option];
    if (flag === undefined) throw new RegexError(`regex option "${option}" has no JavaScript equivalent`);
    if (!flags.includes(flag)) flags += flag;
  }
  let source = pattern;
  const inline = /^\(\?([ism]+)\)/.exec(source);
  if (inline !== null) {
    for (const f of inline[1]!) if (!flags.includes(f)) flags += f;
    source = source.slice(inline[0].length);
  }
  source = source
    .replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>')
    .replace(/(^|[^\\])((?:\\\\)*)\\A/g, '$1$2(?<![\\s\\S])')
    .replace(/(^|[^\\])((?:\\\\)*)\\z/g, '$1$2(?![\\s\\S])')
    .replace(/(^|[^\\])((?:\\\\)*)\\Z/g, '$1$2(?=\\n?(?![\\s\\S]))');
  try {
    return new RegExp(source, flags + 'g');
  } catch (err) {
    throw new RegexError(`regex /${pattern}/ does not compile: ${(err as Error).message}`);
  }
}

/** Whether the regex matches with its match starting between the offsets (0 max = no limit). */
export function regexMatches(regex: RegExp, body: Buffer, url: Pick<HttpUrl, 'regexMinOffset' | 'regexMaxOffset'>): boolean {
  const text = body.toString(regex.unicode ? 'utf8' : 'latin1');
  regex.lastIndex = url.regexMinOffset;
  const match = regex.exec(text);
  if (match === null) return false;
  return url.regexMaxOffset === 0 || match.index <= url.regexMaxOffset;
}

export interface ExpectedHeader {
  name: string;
  /** Exact value (case-sensitive), or a pattern; neither = the header only has to be present. */
  value?: string;
  pattern?: RegExp;
}

type HeaderValues = Record<string, string | string[] | undefined>;

/** undefined when the expectation holds, else why not. */
export function headerMismatch(headers: HeaderValues, expected: ExpectedHeader): string | undefined {
  const raw = headers[expected.name.toLowerCase()];
  if (raw === undefined) return `no ${expected.name} header`;
  const values = Array.isArray(raw) ? raw : [raw];
  if (expected.value !== undefined && !values.includes(expected.value)) {
    return `${expected.name} is "${values.join(', ')}", expected "${expected.value}"`;
  }
  if (expected.pattern !== undefined) {
    const pattern = expected.pattern;
    const ok = values.some((v) => {
      pattern.lastIndex = 0;
      return pattern.test(v);
    });
    if (!ok) return `${expected.name} is "${values.join(', ')}", expected to match ${pattern}`;
  }
  return undefined;
}
