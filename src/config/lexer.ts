// Text that remembers where each character was written, and the character-level rules of the
// dialect that work on it: comments, brace splitting and tokenizing.

import type { SourcePosition, Token } from './ast.js';

/** A run of characters written contiguously at one place. */
export interface Piece {
  /** Offset of the run's first character in the text the piece table was made for. */
  start: number;
  file: string;
  line: number;
  column: number;
  /** Every character maps to `column` (text produced by a function such as `${_RANDOM}`). */
  fixed: boolean;
}

/**
 * A slice shares its parent's piece table and keeps where it begins in it: reading a
 * 5000-server file slices every line several times, and copying the table at each slice was
 * a tenth of what the read allocated.
 */
export class SourceText {
  private constructor(
    readonly text: string,
    private readonly pieces: readonly Piece[],
    /** Where this text's first character is in the pieces' coordinates. */
    private readonly offset: number,
    /** The piece holding the first character (kept even by an empty slice, so it has a position). */
    private readonly first: number,
    /** Later pieces starting here or after belong to the text this was sliced from (Infinity: not a slice). */
    private readonly limit: number,
  ) {}

  /** `pieces` must start at offset 0 and be sorted by `start`. */
  static fromPieces(text: string, pieces: readonly Piece[]): SourceText {
    return new SourceText(text, pieces, 0, 0, Infinity);
  }

  static at(text: string, pos: SourcePosition, fixed = false): SourceText {
    return new SourceText(text, [{ start: 0, file: pos.file, line: pos.line, column: pos.column, fixed }], 0, 0, Infinity);
  }

  get length(): number {
    return this.text.length;
  }

  /** The index of this text's last piece starting at or before `at` (in the pieces' coordinates). */
  #pieceAt(at: number): number {
    const pieces = this.pieces;
    let lo = this.first;
    let hi = pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      const start = pieces[mid]!.start;
      if (start <= at && start < this.limit) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  posAt(index: number): SourcePosition {
    const at = this.offset + index;
    const p = this.pieces[this.#pieceAt(at)]!;
    return { file: p.file, line: p.line, column: p.fixed ? p.column : p.column + (at - p.start) };
  }

  slice(from: number, to: number = this.text.length): SourceText {
    if (from <= 0 && to >= this.text.length) return this;
    const at = this.offset + from;
    return new SourceText(this.text.slice(from, to), this.pieces, at, this.#pieceAt(at), Math.min(this.limit, this.offset + to));
  }

  /** This text's pieces in its own coordinates, moved by `shift`. */
  #ownPieces(shift: number): Piece[] {
    const own: Piece[] = [];
    for (let i = this.first; i < this.pieces.length; i++) {
      const p = this.pieces[i]!;
      if (i > this.first && p.start >= this.limit) break;
      const start = p.start - this.offset;
      own.push(
        start >= 0
          ? { start: start + shift, file: p.file, line: p.line, column: p.column, fixed: p.fixed }
          : { start: shift, file: p.file, line: p.line, column: p.fixed ? p.column : p.column - start, fixed: p.fixed },
      );
    }
    return own;
  }

  concat(other: SourceText): SourceText {
    if (other.length === 0) return this;
    if (this.length === 0) return other;
    return new SourceText(this.text + other.text, [...this.#ownPieces(0), ...other.#ownPieces(this.text.length)], 0, 0, Infinity);
  }

  splice(from: number, to: number, value: SourceText): SourceText {
    return this.slice(0, from).concat(value).concat(this.slice(to));
  }

  trim(): SourceText {
    const text = this.text;
    let a = 0;
    let b = text.length;
    while (a < b && isBlank(text.charCodeAt(a))) a++;
    while (b > a && isBlank(text.charCodeAt(b - 1))) b--;
    return a === 0 && b === text.length ? this : this.slice(a, b);
  }
}

const SPACE = 0x20;
const TAB = 0x09;

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** keepalived's WHITE_SPACE: space, \t, \n, \v, \f, \r. */
export function isWhite(c: number): boolean {
  return c === SPACE || (c >= 0x09 && c <= 0x0d);
}

export interface PhysicalLine {
  text: SourceText;
  /** The line ended with `\`, which has been removed. */
  continued: boolean;
}

/**
 * One physical line with comments removed: `!` and `#` outside double quotes start a comment,
 * `\#` and `\!` outside quotes stand for the character itself, leading and trailing blanks go.
 */
export function decomment(raw: string, file: string, line: number): PhysicalLine {
  const n = raw.length;
  let i = 0;
  while (i < n && isBlank(raw.charCodeAt(i))) i++;
  let out = '';
  const pieces: Piece[] = [{ start: 0, file, line, column: i + 1, fixed: false }];
  let segStart = i;
  let quote = false;
  for (; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x22 /* " */) {
      quote = !quote;
    } else if (c === 0x5c /* \ */) {
      if (i + 1 >= n) {
        i = n;
        break;
      }
      const d = raw.charCodeAt(i + 1);
      if (!quote && (d === 0x23 || d === 0x21)) {
        out += raw.slice(segStart, i);
        segStart = i + 1;
        pieces.push({ start: out.length, file, line, column: i + 2, fixed: false });
      }
      i++;
    } else if (!quote && (c === 0x21 /* ! */ || c === 0x23) /* # */) {
      break;
    }
  }
  out += raw.slice(segStart, i);
  let end = out.length;
  while (end > 0 && isBlank(out.charCodeAt(end - 1))) end--;
  let continued = false;
  if (end > 0 && out.charCodeAt(end - 1) === 0x5c) {
    continued = true;
    end--;
    while (end > 0 && isBlank(out.charCodeAt(end - 1))) end--;
  }
  if (end !== out.length) out = out.slice(0, end);
  return { text: SourceText.fromPieces(out, pieces), continued };
}

export interface BraceSplit {
  /** `{`, `}`, or text with no brace outside quotes. */
  head: SourceText;
  /** What follows on the same logical line, read as the next line. */
  residue: SourceText | null;
}

/** keepalived's read_line: a line is cut at its first `{` or `}` outside double quotes. */
export function splitBraces(line: SourceText): BraceSplit {
  const text = line.text;
  const first = text.charCodeAt(0);
  if (first === 0x7b || first === 0x7d) {
    const rest = line.slice(1).trim();
    return { head: line.slice(0, 1), residue: rest.length > 0 ? rest : null };
  }
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const close = text.indexOf('"', i + 1);
      if (close < 0) break;
      i = close;
    } else if (c === 0x7b || c === 0x7d) {
      let end = i;
      while (end > 0 && isBlank(text.charCodeAt(end - 1))) end--;
      return { head: line.slice(0, end), residue: line.slice(i) };
    }
  }
  return { head: line, residue: null };
}

export interface Tokenized {
  /** The first token; null for a line with no token. */
  keyword: Token | null;
  args: Token[];
  /** Offset just past the keyword (after its closing quote). */
  keywordEnd: number;
  /** Offset of an opening quote that is never closed. */
  unterminatedQuote: number | null;
}

/** Splits on whitespace; a token starting with `"` runs to the next `"` and keeps its spaces. */
export function tokenize(line: SourceText): Tokenized {
  const text = line.text;
  const n = text.length;
  let keyword: Token | null = null;
  const args: Token[] = [];
  let keywordEnd = 0;
  let unterminatedQuote: number | null = null;
  let i = 0;
  for (;;) {
    while (i < n && isWhite(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const start = i;
    let token: Token;
    if (text.charCodeAt(i) === 0x22) {
      const close = text.indexOf('"', i + 1);
      if (close < 0) {
        unterminatedQuote = i;
        token = { text: text.slice(i + 1), pos: line.posAt(i), quoted: true };
        i = n;
      } else {
        token = { text: text.slice(i + 1, close), pos: line.posAt(start), quoted: true };
        i = close + 1;
      }
    } else {
      while (i < n) {
        const c = text.charCodeAt(i);
        if (isWhite(c) || c === 0x22) break;
        i++;
      }
      token = { text: text.slice(start, i), pos: line.posAt(start), quoted: false };
    }
    if (keyword) {
      args.push(token);
    } else {
      keyword = token;
      keywordEnd = i;
    }
  }
  return { keyword, args, keywordEnd, unterminatedQuote };
}
