// The shape the keepalived.conf dialect reader hands to the model builder: logical lines as
// statements, nested by braces, every token carrying where it came from.

export interface SourcePosition {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, in characters of the original line. */
  column: number;
}

export interface Token {
  text: string;
  pos: SourcePosition;
  /** The token was written in double quotes (so `{`, `!` and spaces in it are literal). */
  quoted: boolean;
}

export interface Statement {
  keyword: Token;
  args: Token[];
  /**
   * The rest of the logical line after the keyword, after `$` substitution, comments removed,
   * for keywords that take a command line (notify scripts, misc_path, ...): those are split with
   * shell-like quoting rules, not by the plain tokenizer.
   */
  rest: string;
  /** Present when the statement opened a `{ ... }` block. */
  children?: Statement[];
  /** Where the closing brace was, when the block was closed. */
  end?: SourcePosition;
}

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  pos: SourcePosition;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.pos.file}:${d.pos.line}:${d.pos.column}: ${d.severity}: ${d.message}`;
}

/** Collects every problem of a run, so all of them are reported at once. */
export class Diagnostics {
  readonly list: Diagnostic[] = [];

  error(pos: SourcePosition, message: string): void {
    this.list.push({ severity: 'error', pos, message });
  }

  warning(pos: SourcePosition, message: string): void {
    this.list.push({ severity: 'warning', pos, message });
  }

  get hasErrors(): boolean {
    return this.list.some((d) => d.severity === 'error');
  }
}
