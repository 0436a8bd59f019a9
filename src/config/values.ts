// Value parsers for keyword arguments. Each reports its own diagnostic at the token and
// returns undefined, so a handler can stop at the first bad value without throwing.
import { isIPv4, isIPv6 } from 'node:net';
import type { Diagnostics, Statement, Token } from './ast.js';
import type { Address, Script } from './model.js';
import { ScriptSyntaxError, scriptWords } from './script-words.js';

export const INT32_MAX = 2147483647;

export class ParseContext {
  /** Where the first script was configured, for the script-security warning. */
  firstScript: Token | undefined;

  constructor(readonly diags: Diagnostics) {}

  error(at: Token | Statement, message: string): void {
    this.diags.error(tokenOf(at).pos, message);
  }

  warning(at: Token | Statement, message: string): void {
    this.diags.warning(tokenOf(at).pos, message);
  }
}

function tokenOf(at: Token | Statement): Token {
  return 'keyword' in at ? at.keyword : at;
}

/** Checks the argument count, reporting at the keyword; true when it is acceptable. */
export function arity(st: Statement, cx: ParseContext, min: number, max = min): boolean {
  const n = st.args.length;
  const name = st.keyword.text;
  if (n < min) {
    cx.error(st, `\`${name}\` needs ${min === max ? '' : 'at least '}${min} argument${min === 1 ? '' : 's'}`);
    return false;
  }
  if (n > max) {
    cx.error(st.args[max]!, `\`${name}\` takes ${max === 0 ? 'no arguments' : `at most ${max} argument${max === 1 ? '' : 's'}`}`);
    return false;
  }
  return true;
}

export function integer(tok: Token, cx: ParseContext, min: number, max: number, what: string): number | undefined {
  if (!/^[-+]?\d+$/.test(tok.text)) {
    cx.error(tok, `${what} must be an integer, not \`${tok.text}\``);
    return undefined;
  }
  const value = Number(tok.text);
  if (value < min || value > max) {
    cx.error(tok, `${what} must be between ${min} and ${max}, not ${tok.text}`);
    return undefined;
  }
  return value;
}

/** keepalived's TIMER: decimal seconds with microsecond resolution, returned in milliseconds. */
export function timerMs(tok: Token, cx: ParseContext, what: string, minMs = 0, maxMs = INT32_MAX * 1000): number | undefined {
  if (!/^\d+(\.\d*)?$|^\.\d+$/.test(tok.text)) {
    cx.error(tok, `${what} must be a number of seconds, not \`${tok.text}\``);
    return undefined;
  }
  const ms = Math.round(Number(tok.text) * 1e6) / 1e3;
  if (ms < minMs || ms > maxMs) {
    cx.error(tok, `${what} must be between ${minMs / 1000} and ${maxMs / 1000} seconds, not ${tok.text}`);
    return undefined;
  }
  return ms;
}

const trueWords = new Set(['on', 'true', 'yes']);
const falseWords = new Set(['off', 'false', 'no']);

/** A BOOL keyword: bare means true. */
export function bool(st: Statement, cx: ParseContext): boolean | undefined {
  if (!arity(st, cx, 0, 1)) return undefined;
  const tok = st.args[0];
  if (!tok) return true;
  const word = tok.text.toLowerCase();
  if (trueWords.has(word)) return true;
  if (falseWords.has(word)) return false;
  cx.error(tok, `\`${st.keyword.text}\` takes on/off, true/false or yes/no, not \`${tok.text}\``);
  return undefined;
}

/** The canonical text of an IPv6 address (compressed, lower case), as ipvsadm prints it. */
export function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** An address literal, normalized; `what` names it in the message. */
export function address(tok: Token, cx: ParseContext, what: string): Address | undefined {
  const parsed = parseAddress(tok.text);
  if (!parsed) cx.error(tok, `${what} must be an IPv4 or IPv6 address, not \`${tok.text}\``);
  return parsed;
}

export function parseAddress(text: string): Address | undefined {
  if (isIPv4(text)) return { address: text, family: 'inet' };
  if (isIPv6(text)) return { address: canonicalIPv6(text), family: 'inet6' };
  return undefined;
}

export function port(tok: Token, cx: ParseContext, what = 'a port'): number | undefined {
  return integer(tok, cx, 0, 65535, what);
}

/** The words of `text`, or undefined after reporting a quoting error against `st`. */
function splitScriptWords(text: string, st: Statement, cx: ParseContext): string[] | undefined {
  try {
    return scriptWords(text);
  } catch (e) {
    if (!(e instanceof ScriptSyntaxError)) throw e;
    cx.error(st, `\`${st.keyword.text}\`: ${e.message}`);
    return undefined;
  }
}

/** A script line: the first word is the command (split again into argv), then user and group. */
export function script(st: Statement, cx: ParseContext): Script | undefined {
  const words = splitScriptWords(st.rest, st, cx);
  if (!words) return undefined;
  if (words.length === 0) {
    cx.error(st, `\`${st.keyword.text}\` needs a script`);
    return undefined;
  }
  if (words.length > 3) {
    cx.error(st.args[3] ?? st.keyword, `\`${st.keyword.text}\` takes a script, a user and a group; quote a script that has arguments`);
    return undefined;
  }
  const argv = splitScriptWords(words[0]!, st, cx);
  if (!argv) return undefined;
  if (argv.length === 0) {
    cx.error(st, `\`${st.keyword.text}\` needs a script`);
    return undefined;
  }
  cx.firstScript ??= st.keyword;
  return { argv, user: words[1] ?? '', group: words[2] ?? '', pos: st.keyword.pos };
}

/** IPv4 dotted netmask (contiguous) to a prefix length. */
export function netmaskPrefix(text: string): number | undefined {
  if (!isIPv4(text)) return undefined;
  const n = text.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  let prefix = 0;
  while (prefix < 32 && n & (0x80000000 >>> prefix)) prefix++;
  const expected = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return n === expected ? prefix : undefined;
}

/** keepalived does not know these: `keepalived -t` fails on them and its daemon skips the line. */
export function warnNotKeepalived(st: Statement, cx: ParseContext): void {
  cx.warning(st, `\`${st.keyword.text}\` is an ipvsd extension: \`keepalived -t\` rejects it and keepalived would ignore it`);
}

export function setIf<V>(value: V | undefined, set: (v: V) => void): void {
  if (value !== undefined) set(value);
}
