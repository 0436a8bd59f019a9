// `include` and its strict variants: which files a directive names, and which problems count as
// errors under keepalived's include checks (readable, match, wildcard_match, brace_match).

import { isAbsolute, join } from 'node:path';
import type { Token } from './ast.js';
import { expandBraces, glob, hasBraces, hasWildcards, unescapePattern } from './glob.js';
import type { SourceText } from './lexer.js';

/** A matched file cannot be read (or is a directory). */
export const CHECK_READ = 1;
/** A path without wildcards matches nothing. */
export const CHECK_MATCH = 2;
/** A pattern with wildcards matches nothing. */
export const CHECK_WILDCARD = 4;
/** One alternative of a brace expression matches nothing. */
export const CHECK_BRACE = 8;
export const CHECK_ALL = CHECK_READ | CHECK_MATCH | CHECK_WILDCARD | CHECK_BRACE;

const VARIANT_CHECKS: Readonly<Record<string, number>> = {
  include: 0,
  includer: CHECK_READ,
  includem: CHECK_READ | CHECK_MATCH,
  includew: CHECK_READ | CHECK_MATCH | CHECK_WILDCARD,
  includeb: CHECK_READ | CHECK_BRACE,
  includea: CHECK_ALL,
};

export interface IncludeDirective {
  keyword: string;
  /** The checks the variant adds to the current include_check. */
  checks: number;
  /** The file pattern: the rest of the line, which may contain blanks. */
  pattern: SourceText;
}

/** `include[rmwba] PATTERN`; null when the line is not an include directive. */
export function parseInclude(line: SourceText): IncludeDirective | null {
  const m = /^(include[rmwba]?)(?:[ \t\v\f\r]+|$)/.exec(line.text);
  if (!m) return null;
  const keyword = m[1]!;
  return { keyword, checks: VARIANT_CHECKS[keyword]!, pattern: line.slice(m[0].length).trim() };
}

export interface IncludeCheckProblem {
  token: Token;
  message: string;
}

/**
 * `include_check [[+|-]readable|read|match|wildcard_match|brace_match ...]`: no argument means all
 * checks; a bare word sets (it implies readable), `+`/`-` add or remove.
 */
export function applyIncludeCheck(args: readonly Token[], current: number, problems: IncludeCheckProblem[]): number {
  if (args.length === 0) return CHECK_ALL;
  let checks = current;
  args.forEach((token, index) => {
    const sign = token.text.charAt(0);
    const relative = sign === '+' || sign === '-';
    const word = relative ? token.text.slice(1) : token.text;
    if (!relative && index > 0) {
      problems.push({ token, message: `include_check: duplicate setting '${word}' ignored (use +${word} to add it)` });
      return;
    }
    const flag = { read: CHECK_READ, readable: CHECK_READ, match: CHECK_MATCH, wildcard_match: CHECK_WILDCARD, brace_match: CHECK_BRACE }[word];
    if (flag === undefined) {
      problems.push({ token, message: `include_check: unknown check '${word}' ignored` });
      return;
    }
    if (!relative) checks = CHECK_READ | flag;
    else if (sign === '+') checks |= flag;
    else checks &= ~flag;
  });
  return checks;
}

export interface IncludedFile {
  path: string;
  text: string;
}

export interface IncludeProblem {
  /** The check that makes this an error; 0 for something only worth a warning. */
  check: number;
  message: string;
}

export interface IncludeResolution {
  files: IncludedFile[];
  problems: IncludeProblem[];
}

/** Expands and reads the files a pattern names, relative patterns against `baseDir`. */
export function resolveInclude(pattern: string, baseDir: string, readFile: (path: string) => string): IncludeResolution {
  const files: IncludedFile[] = [];
  const problems: IncludeProblem[] = [];
  let matched = 0;
  let missing = false;
  let wildcards = false;

  const read = (path: string): void => {
    matched++;
    if (path.endsWith('/')) {
      problems.push({ check: CHECK_READ, message: `'${path.slice(0, -1)}' is a directory, skipped` });
      return;
    }
    try {
      files.push({ path, text: readFile(path) });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        matched--;
        missing = true;
      } else if (code === 'EISDIR') {
        problems.push({ check: CHECK_READ, message: `'${path}' is a directory, skipped` });
      } else {
        problems.push({ check: CHECK_READ, message: `cannot read '${path}': ${(err as Error).message}` });
      }
    }
  };

  for (const alternative of expandBraces(pattern)) {
    const full = isAbsolute(alternative) ? alternative : join(baseDir, alternative);
    if (hasWildcards(alternative)) {
      wildcards = true;
      const result = glob(full);
      if (result.missing && result.paths.length === 0) missing = true;
      for (const path of result.paths) read(path);
    } else {
      read(unescapePattern(full));
    }
  }

  if (matched === 0) {
    if (missing) problems.push({ check: hasBraces(pattern) ? CHECK_BRACE : CHECK_MATCH, message: `no file matches '${pattern}'` });
    else if (wildcards) problems.push({ check: CHECK_WILDCARD, message: `no file matches '${pattern}'` });
  } else if (missing) {
    problems.push({ check: CHECK_BRACE, message: `some files of '${pattern}' are missing` });
  }
  return { files, problems };
}
