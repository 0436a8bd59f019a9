// `~SEQ(var, start, step, end) text`, `~SEQx(...)` and `~LST(var, v1, ...)` /
// `~LST({a, b}, {1, 2}, ...)`: the rest of the line is read once per value, with the
// variables defined. A generated line may itself start with a generator (nesting).

import type { SourcePosition } from './ast.js';
import { SourceText } from './lexer.js';

export interface Generator {
  vars: string[];
  /** How many times the text is produced. */
  count: number;
  /** The values of `vars` for iteration `i` (0-based). */
  valuesAt(i: number): SourceText[];
  text: SourceText;
}

export type GeneratorParse = { generator: Generator } | { error: string; pos: SourcePosition };

/** True when the line starts with a generator keyword and must be parsed by `parseGenerator`. */
export function isGenerator(text: string): boolean {
  return text.startsWith('~SEQ') || text.startsWith('~LST');
}

/** `substitute` resolves `$` references in ~SEQ's numbers, as keepalived does. */
export function parseGenerator(line: SourceText, substitute: (params: SourceText) => string): GeneratorParse {
  return line.text.startsWith('~SEQ') ? parseSeq(line, substitute) : parseLst(line);
}

const SKIP_BLANKS = /[ \t]*/y;

function skipBlanks(s: string, i: number): number {
  SKIP_BLANKS.lastIndex = i;
  SKIP_BLANKS.exec(s);
  return SKIP_BLANKS.lastIndex;
}

/** strtol(…, 0) for a whole string: decimal, 0x hex or 0 octal, optional sign. */
function parseCInteger(s: string): number | null {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s.trim());
  if (!m) return null;
  const digits = m[2]!;
  const magnitude = /^0[xX]/.test(digits)
    ? Number.parseInt(digits.slice(2), 16)
    : digits.length > 1 && digits.startsWith('0')
      ? Number.parseInt(digits, 8)
      : Number.parseInt(digits, 10);
  const value = m[1] === '-' ? -magnitude : magnitude;
  return Number.isSafeInteger(value) ? value : null;
}

function parseSeq(line: SourceText, substitute: (params: SourceText) => string): GeneratorParse {
  const s = line.text;
  const pos = line.posAt(0);
  const hex = s.charAt(4) === 'x';
  let p = skipBlanks(s, hex ? 5 : 4);
  if (s.charAt(p) !== '(') return { error: `invalid ~SEQ: expected '(' after ~SEQ${hex ? 'x' : ''}`, pos: line.posAt(p) };
  p = skipBlanks(s, p + 1);
  const close = s.indexOf(')', p);
  if (close < 0) return { error: "invalid ~SEQ: missing ')'", pos };
  const parts = s.slice(p, close).split(',');
  const name = parts[0]!.trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return { error: `invalid ~SEQ variable name '${name}'`, pos: line.posAt(p) };
  if (parts.length < 2 || parts.length > 4) {
    return { error: 'invalid ~SEQ: expected (var, end), (var, start, end) or (var, start, step, end)', pos };
  }
  const numbers: number[] = [];
  for (const raw of substitute(line.slice(p + parts[0]!.length + 1, close)).split(',')) {
    const n = parseCInteger(raw);
    if (n === null) return { error: `invalid ~SEQ number '${raw.trim()}'`, pos };
    numbers.push(n);
  }
  let start: number;
  let step: number;
  let end: number;
  if (numbers.length === 1) {
    end = numbers[0]!;
    step = end < 1 ? -1 : 1;
    start = end < 0 ? -1 : 1;
  } else if (numbers.length === 2) {
    [start, end] = numbers as [number, number];
    step = start <= end ? 1 : -1;
  } else {
    [start, step, end] = numbers as [number, number, number];
    if (step === 0 || (start < end && step < 0) || (start > end && step > 0)) {
      return { error: `invalid ~SEQ values: step ${step} never goes from ${start} to ${end}`, pos };
    }
  }
  if (hex && (start < 0 || end < 0)) return { error: '~SEQx is only valid for positive numbers', pos };
  const count = Math.floor((end - start) / step) + 1;
  return {
    generator: {
      vars: [name],
      count,
      valuesAt: (i) => {
        const v = start + i * step;
        return [SourceText.at(hex ? v.toString(16) : String(v), pos, true)];
      },
      text: line.slice(skipBlanks(s, close + 1)),
    },
  };
}

function parseLst(line: SourceText): GeneratorParse {
  const s = line.text;
  const pos = line.posAt(0);
  const fail = (message: string, at = pos): GeneratorParse => ({ error: `invalid ~LST: ${message}`, pos: at });
  let p = skipBlanks(s, 4);
  if (s.charAt(p) !== '(') return fail("expected '(' after ~LST");
  p = skipBlanks(s, p + 1);

  // Reads one item (a name or a value), returning its [start, end) offsets.
  const item = (): [number, number] => {
    const start = p;
    while (p < s.length && !' \t,})'.includes(s.charAt(p))) p++;
    const end = p;
    p = skipBlanks(s, p);
    return [start, end];
  };

  const vars: string[] = [];
  const bracedNames = s.charAt(p) === '{';
  if (bracedNames) p = skipBlanks(s, p + 1);
  for (;;) {
    const [a, b] = item();
    const name = s.slice(a, b);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return fail(`invalid variable name '${name}'`, line.posAt(a));
    vars.push(name);
    if (!bracedNames || s.charAt(p) === '}') break;
    if (s.charAt(p) !== ',') return fail("expected ',' or '}' after a variable name", line.posAt(p));
    p = skipBlanks(s, p + 1);
  }
  if (bracedNames) p = skipBlanks(s, p + 1);
  if (s.charAt(p) !== ',') return fail("expected ',' after the variable names", line.posAt(Math.min(p, s.length - 1)));
  p = skipBlanks(s, p + 1);

  const sets: SourceText[][] = [];
  for (;;) {
    const braced = s.charAt(p) === '{';
    if (braced) p = skipBlanks(s, p + 1);
    const values: SourceText[] = [];
    for (;;) {
      const [a, b] = item();
      values.push(line.slice(a, b));
      if (values.length > vars.length) return fail('too many values for the variables', line.posAt(a));
      const c = s.charAt(p);
      if (braced ? c === '}' : c === ',' || c === ')') break;
      if (c !== ',') return fail("expected ',' between values", line.posAt(Math.min(p, s.length - 1)));
      p = skipBlanks(s, p + 1);
    }
    while (values.length < vars.length) values.push(SourceText.at('', pos, true));
    sets.push(values);
    if (braced) p = skipBlanks(s, p + 1);
    if (s.charAt(p) === ')') break;
    if (s.charAt(p) !== ',') return fail("expected ',' or ')' after a value", line.posAt(Math.min(p, s.length - 1)));
    p = skipBlanks(s, p + 1);
  }
  return {
    generator: { vars, count: sets.length, valuesAt: (i) => sets[i]!, text: line.slice(skipBlanks(s, p + 1)) },
  };
}
