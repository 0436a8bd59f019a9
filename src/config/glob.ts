// A small glob(3) for include patterns (Node 20 has no fs.glob): `*`, `?`, `[...]`, `\` escapes
// and csh brace expansion, results sorted per brace alternative as glibc's GLOB_BRACE does.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Alternatives of a brace expression beyond this are not expanded (a hostile pattern). */
const MAX_ALTERNATIVES = 4096;

/**
 * csh brace expansion: `a{b,c{d,e}}f` -> `abf`, `acdf`, `acef`. A `{` without a matching `}`
 * and `{}` are literal; `\` escapes the next character (and is kept for the matcher).
 */
export function expandBraces(pattern: string): string[] {
  const open = findBrace(pattern);
  if (!open) return [pattern];
  const { start, end, commas } = open;
  const prefix = pattern.slice(0, start);
  const suffix = pattern.slice(end + 1);
  const out: string[] = [];
  let from = start + 1;
  for (const comma of [...commas, end]) {
    for (const expanded of expandBraces(prefix + pattern.slice(from, comma) + suffix)) {
      if (out.length >= MAX_ALTERNATIVES) return out;
      out.push(expanded);
    }
    from = comma + 1;
  }
  return out;
}

interface BraceGroup {
  start: number;
  end: number;
  /** Offsets of the top-level commas inside the group. */
  commas: number[];
}

function findBrace(p: string): BraceGroup | null {
  for (let i = 0; i < p.length; i++) {
    const c = p.charAt(i);
    if (c === '\\') {
      i++;
    } else if (c === '{') {
      const group = matchGroup(p, i);
      if (group && !(group.end === i + 1)) return group;
    }
  }
  return null;
}

function matchGroup(p: string, start: number): BraceGroup | null {
  let depth = 0;
  const commas: number[] = [];
  for (let i = start; i < p.length; i++) {
    const c = p.charAt(i);
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}') {
      if (--depth === 0) return { start, end: i, commas };
    } else if (c === ',' && depth === 1) commas.push(i);
  }
  return null;
}

export function hasWildcards(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

export function hasBraces(pattern: string): boolean {
  return findBrace(pattern) !== null;
}

/** Removes `\` escapes from a pattern without wildcards. */
export function unescapePattern(pattern: string): string {
  return pattern.replace(/\\(.)/g, '$1');
}

export interface GlobResult {
  /** Matching paths, sorted; directories end with `/` (GLOB_MARK). */
  paths: string[];
  /** A directory on the way, or the path itself when it had no wildcard, does not exist. */
  missing: boolean;
}

/** One pattern (no braces; expand them first) against the file system. */
export function glob(pattern: string): GlobResult {
  const absolute = pattern.startsWith('/');
  const segments = pattern.split('/').filter((s) => s !== '');
  let candidates = [absolute ? '/' : ''];
  let missing = false;
  for (let k = 0; k < segments.length; k++) {
    const segment = segments[k]!;
    const next: string[] = [];
    if (!hasWildcards(segment)) {
      const name = unescapePattern(segment);
      for (const dir of candidates) next.push(dir === '' ? name : join(dir, name));
    } else {
      const matcher = segmentMatcher(segment);
      for (const dir of candidates) {
        let entries: string[];
        try {
          entries = readdirSync(dir === '' ? '.' : dir);
        } catch {
          missing = true;
          continue;
        }
        for (const entry of entries.sort(byBytes)) {
          if (matcher.test(entry)) next.push(dir === '' ? entry : join(dir, entry));
        }
      }
    }
    candidates = next;
  }
  const paths: string[] = [];
  for (const candidate of candidates) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(candidate).isDirectory();
    } catch {
      missing = true;
      continue;
    }
    paths.push(isDirectory ? `${candidate}/` : candidate);
  }
  return { paths: paths.sort(byBytes), missing };
}

function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One path segment as a RegExp; a leading `.` is only matched by a literal `.` (as glob(3)). */
export function segmentMatcher(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charAt(i);
    if (c === '\\' && i + 1 < segment.length) {
      re += escapeRegExp(segment.charAt(++i));
    } else if (c === '*') {
      re += i === 0 ? '(?!\\.)[^/]*' : '[^/]*';
    } else if (c === '?') {
      re += i === 0 ? '(?!\\.)[^/]' : '[^/]';
    } else if (c === '[') {
      const cls = bracketClass(segment, i);
      if (cls) {
        re += (i === 0 ? '(?!\\.)' : '') + cls.re;
        i = cls.end;
      } else {
        re += '\\[';
      }
    } else {
      re += escapeRegExp(c);
    }
  }
  try {
    return new RegExp(`^${re}$`, 's');
  } catch {
    // A reversed range such as [z-a] matches nothing, as in glob(3).
    return /(?!)/;
  }
}

/** `[abc]`, `[a-z]`, `[!x]`/`[^x]`; a `]` right after the opening (or after `!`) is literal. */
function bracketClass(s: string, open: number): { re: string; end: number } | null {
  let i = open + 1;
  let negate = false;
  if (s.charAt(i) === '!' || s.charAt(i) === '^') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  for (; i < s.length; i++) {
    const c = s.charAt(i);
    if (c === ']' && !first) return { re: `[${negate ? '^' : ''}${body}]`, end: i };
    first = false;
    if (c === '-' && body !== '' && s.charAt(i + 1) !== ']' && i + 1 < s.length) {
      body += '-';
    } else if (c === '\\' && i + 1 < s.length) {
      body += escapeClassChar(s.charAt(++i));
    } else {
      body += escapeClassChar(c);
    }
  }
  return null;
}

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

function escapeClassChar(c: string): string {
  return /[\\\]^-]/.test(c) ? `\\${c}` : c;
}
