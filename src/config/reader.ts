// The keepalived.conf dialect reader: files -> logical lines (comments, continuation, `@ID`,
// `$` definitions, ~SEQ/~LST, includes, brace splitting) -> statements nested by braces.
// Every problem becomes a diagnostic with a position; nothing here throws on bad input.
//
// Decisions where keepalived leaves room (or misbehaves):
// - A `{` attaches to the statement just before it, on the same line or alone on a following
//   line (blank and comment lines in between are fine), as in keepalived. A `{` with no statement
//   right before it is reported and its contents stay in the enclosing block.
// - A token's position is where its first character was written: text substituted from a `$`
//   definition points into the definition (a multi-line definition's lines keep their own lines),
//   a ~SEQ value and a predefined value (`${_RANDOM}`...) point at the generator or reference.
// - A trailing `\` joins any line to the next (keepalived only does it inside `$` definitions).
// - Include loops, runaway definitions and generators are cut off with a diagnostic (keepalived
//   recurses until it runs out of file descriptors or memory).
// - Text a definition produces is not scanned for comments again, so `${_HASH}` is a literal `#`.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Diagnostics, type Diagnostic, type Severity, type SourcePosition, type Statement } from './ast.js';
import { applyConditional } from './conditionals.js';
import { Definitions, parseDefinition, type MultilineExpansion } from './definitions.js';
import { isGenerator, parseGenerator, type Generator } from './generators.js';
import { applyIncludeCheck, CHECK_READ, parseInclude, resolveInclude, type IncludeCheckProblem, type IncludedFile, type IncludeDirective } from './includes.js';
import { decomment, SourceText, splitBraces, tokenize } from './lexer.js';

export interface ReadOptions {
  /** For `@ID` / `@^ID`; the CLI defaults it to the short host name. */
  configId: string;
  /** For `${_ENV VAR}`; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** `${_INSTANCE}`; default the config id. */
  instance?: string;
  /** `${_RANDOM}`, injectable for tests; default Math.random. */
  random?: () => number;
  /** Injectable for tests; default fs.readFileSync utf8. */
  readFile?: (path: string) => string;
}

export interface ReadResult {
  statements: Statement[];
  diagnostics: Diagnostic[];
  /** Every file read, in the order it was opened. */
  files: string[];
}

export const MAX_BLOCK_DEPTH = 64;
export const MAX_INCLUDE_DEPTH = 32;
/** Physical lines longer than this are ignored (keepalived's own limit is 1024 bytes). */
export const MAX_LINE_LENGTH = 8192;
/** Lines produced by ~SEQ/~LST and multi-line definitions, over the whole read. */
export const MAX_GENERATED_LINES = 200_000;
/** Statements and braces over the whole read; beyond this the input is abandoned (runaway expansion). */
export const MAX_LOGICAL_LINES = 500_000;
/** A file with more lines of binary data than this is abandoned. */
const MAX_BINARY_LINES = 5;
/** Rounds of conditional/definition/substitution on one line (a substitution can yield `@ID` or `$X=`). */
const MAX_LINE_ROUNDS = 32;

const EMPTY = SourceText.at('', { file: '', line: 1, column: 1 });
const DEFINITION_START = /^(?:@\^?\S+[ \t]+)?\$[A-Za-z_][A-Za-z0-9_]*=/;
// C0 controls other than tab, LF, VT, FF, CR; and DEL.
const BINARY = /[\x00-\x08\x0e-\x1f\x7f]/;

export function readConfig(path: string, options: ReadOptions): ReadResult {
  const readFile = options.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    const diagnostics = new Diagnostics();
    diagnostics.error({ file: path, line: 1, column: 1 }, `cannot read the configuration file: ${(err as Error).message}`);
    return { statements: [], diagnostics: diagnostics.list, files: [] };
  }
  return readConfigText(text, path, options);
}

export function readConfigText(text: string, file: string, options: ReadOptions): ReadResult {
  const source = new LogicalLines(options);
  source.openFile(file, text, null);
  const statements = buildTree(source);
  return { statements, diagnostics: source.diagnostics.list, files: source.files };
}

interface FileFrame {
  kind: 'file';
  path: string;
  lines: string[];
  next: number;
  parent: FileFrame | null;
  depth: number;
  /** include_check when the file was opened, restored when it ends. */
  savedChecks: number;
  binaryLines: number;
  /** No binary data anywhere in the file, so lines need no checking one by one. */
  textOnly: boolean;
}

interface LinesFrame {
  kind: 'lines';
  lines: SourceText[];
  next: number;
  /** The multi-line definition being expanded, if that is where the lines come from. */
  definition?: readonly SourceText[];
}

interface GeneratorFrame {
  kind: 'generator';
  generator: Generator;
  next: number;
}

interface IncludeFrame {
  kind: 'include';
  files: IncludedFile[];
  next: number;
  parent: FileFrame | null;
  origin: SourcePosition;
}

type Frame = FileFrame | LinesFrame | GeneratorFrame | IncludeFrame;

interface PulledLine {
  text: SourceText;
  /** A file line that ended with `\` and starts a multi-line definition. */
  continued: boolean;
  /** Substitution already happened (substituting again could expand a runaway definition forever). */
  substituted?: boolean;
}

/** Produces logical lines, each `{`, `}` or a statement's text, with every dialect rule applied. */
class LogicalLines {
  readonly diagnostics = new Diagnostics();
  readonly files: string[] = [];
  /** The current include_check (CHECK_* flags), changed by `include_check` statements. */
  includeChecks = 0;
  private readonly frames: Frame[] = [];
  private readonly definitions: Definitions;
  private readonly readFile: (path: string) => string;
  private readonly reported = new Set<string>();
  /**
   * What follows a brace on the line just returned; it is read before anything else. Its `$`
   * references were already substituted.
   */
  private residue: SourceText | null = null;
  private generatedLines = 0;
  private logicalLines = 0;
  private generatedLimitReported = false;
  /** The lines of a multi-line definition being read, when its first line ended with `\`. */
  private pendingDefinition: SourceText[] | null = null;

  constructor(private readonly options: ReadOptions) {
    this.readFile = options.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
    this.definitions = new Definitions({
      currentFile: () => resolve(this.currentFile()?.path ?? '.'),
      instance: options.instance ?? options.configId,
      env: options.env ?? process.env,
      random: options.random ?? Math.random,
      report: (pos, message) => this.reportOnce(pos, message),
    });
  }

  /** Generated and re-substituted lines would repeat the same problem at the same place. */
  reportOnce(pos: SourcePosition, message: string, severity: Severity = 'error'): void {
    const key = `${pos.file}:${pos.line}:${pos.column}:${message}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    if (severity === 'error') this.diagnostics.error(pos, message);
    else this.diagnostics.warning(pos, message);
  }

  openFile(path: string, text: string, parent: FileFrame | null): void {
    this.files.push(path);
    const lines = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split('\n');
    if (text.includes('\r')) {
      for (let i = 0; i < lines.length; i++) {
        const l = lines[i]!;
        if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
      }
    }
    this.pendingDefinition = null;
    this.frames.push({
      kind: 'file',
      path,
      lines,
      next: 0,
      parent,
      depth: parent ? parent.depth + 1 : 0,
      savedChecks: this.includeChecks,
      binaryLines: 0,
      textOnly: !BINARY.test(text),
    });
  }

  /** The next `{`, `}` or statement text; null at the end of the input. */
  next(): SourceText | null {
    for (;;) {
      const pulled = this.pull();
      if (!pulled) return null;
      if (++this.logicalLines > MAX_LOGICAL_LINES) {
        this.reportOnce(pulled.text.posAt(0), `more than ${MAX_LOGICAL_LINES} statements and braces; the rest of the configuration is ignored`);
        this.frames.length = 0;
        this.residue = null;
        return null;
      }
      const line = this.expand(pulled);
      if (line.length === 0) continue;
      const include = line.text.charCodeAt(0) === 0x69 /* i */ ? parseInclude(line) : null;
      if (include) {
        this.include(include, line.posAt(0));
        continue;
      }
      const { head, residue } = splitBraces(line);
      this.residue = residue;
      if (head.length > 0) return head;
    }
  }

  /** `@ID`, `$NAME=`, ~SEQ/~LST and substitution, in keepalived's order; '' when nothing is left. */
  private expand(pulled: PulledLine): SourceText {
    let line = pulled.text;
    for (let round = 0; ; round++) {
      if (round >= MAX_LINE_ROUNDS) {
        this.reportOnce(line.posAt(0), 'line keeps changing under substitution (definitions referring to each other?); ignored');
        return EMPTY;
      }
      const first = line.text.charCodeAt(0);
      if (first === 0x40 /* @ */) {
        const kept = applyConditional(line, this.options.configId);
        if (!kept) {
          // The body of a multi-line definition belongs to the skipped line, not to the file.
          if (pulled.continued && DEFINITION_START.test(line.text)) this.pendingDefinition = [];
          return EMPTY;
        }
        line = kept;
        continue;
      }
      if (first === 0x24 /* $ */) {
        const def = parseDefinition(line);
        if (def) {
          if (pulled.continued) {
            this.pendingDefinition = this.definitions.defineMultiline(def.name, def.value);
          } else {
            this.definitions.define(def.name, def.value);
          }
          return EMPTY;
        }
      }
      if (first === 0x7e /* ~ */) {
        if (isGenerator(line.text)) this.startGenerator(line);
        else return line;
        return EMPTY;
      }
      if (pulled.substituted || !line.text.includes('$')) return line;
      const sub = this.definitions.substitute(line);
      if (!sub.changed) return line;
      for (let i = sub.expansions.length - 1; i >= 0; i--) this.startExpansion(sub.expansions[i]!, line.posAt(0));
      line = sub.text.trim();
      if (sub.stopped) return line;
      if (line.text.charCodeAt(0) !== 0x40 && !line.text.includes('$') && line.text.charCodeAt(0) !== 0x7e) return line;
    }
  }

  private startExpansion(expansion: MultilineExpansion, pos: SourcePosition): void {
    if (this.frames.some((f) => f.kind === 'lines' && f.definition === expansion.definition)) {
      this.reportOnce(pos, `multi-line definition '${expansion.name}' is used inside its own expansion; not expanded again`);
      return;
    }
    if (expansion.rest.length > 0 && this.allowGenerated(expansion.rest.length, pos)) {
      this.frames.push({ kind: 'lines', lines: expansion.rest, next: 0, definition: expansion.definition });
    }
  }

  private startGenerator(line: SourceText): void {
    const parsed = parseGenerator(line, (params) => this.definitions.substitute(params).text.text);
    if ('error' in parsed) {
      this.reportOnce(parsed.pos, parsed.error);
      return;
    }
    if (!this.allowGenerated(parsed.generator.count, line.posAt(0))) return;
    this.frames.push({ kind: 'generator', generator: parsed.generator, next: 0 });
  }

  private allowGenerated(count: number, pos: SourcePosition): boolean {
    if (this.generatedLines + count <= MAX_GENERATED_LINES) {
      this.generatedLines += count;
      return true;
    }
    if (!this.generatedLimitReported) {
      this.generatedLimitReported = true;
      this.reportOnce(pos, `~SEQ/~LST and multi-line definitions would produce more than ${MAX_GENERATED_LINES} lines; not expanded`);
    }
    return false;
  }

  private include(directive: IncludeDirective, pos: SourcePosition): void {
    let pattern = directive.pattern.text;
    if (pattern.length === 0) {
      this.reportOnce(pos, `${directive.keyword} needs a file name`);
      return;
    }
    if (pattern.length >= 2 && pattern.startsWith('"') && pattern.endsWith('"')) pattern = pattern.slice(1, -1);
    const parent = this.currentFile();
    const patternPos = directive.pattern.posAt(0);
    const checks = this.includeChecks | directive.checks;
    const { files, problems } = resolveInclude(pattern, dirname(parent?.path ?? '.'), this.readFile);
    for (const problem of problems) {
      if (problem.check & checks) this.reportOnce(patternPos, `${directive.keyword}: ${problem.message}`);
      else if (problem.check === CHECK_READ) this.reportOnce(patternPos, `${directive.keyword}: ${problem.message}`, 'warning');
    }
    if (files.length > 0) this.frames.push({ kind: 'include', files, next: 0, parent, origin: patternPos });
  }

  private currentFile(): FileFrame | null {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const frame = this.frames[i]!;
      if (frame.kind === 'file') return frame;
    }
    return null;
  }

  private pull(): PulledLine | null {
    if (this.residue) {
      const text = this.residue;
      this.residue = null;
      return { text, continued: false, substituted: true };
    }
    for (;;) {
      const top = this.frames[this.frames.length - 1];
      if (!top) return null;
      switch (top.kind) {
        case 'lines':
          if (top.next < top.lines.length) return { text: top.lines[top.next++]!, continued: false };
          this.frames.pop();
          break;
        case 'generator': {
          const g = top.generator;
          if (top.next < g.count) {
            const values = g.valuesAt(top.next++);
            g.vars.forEach((name, i) => this.definitions.define(name, values[i]!));
            return { text: g.text, continued: false };
          }
          this.frames.pop();
          break;
        }
        case 'include':
          if (top.next < top.files.length) this.openIncluded(top, top.files[top.next++]!);
          else this.frames.pop();
          break;
        case 'file': {
          const line = this.readFileLine(top);
          if (line) return line;
          this.frames.pop();
          this.includeChecks = top.savedChecks;
          this.pendingDefinition = null;
        }
      }
    }
  }

  private openIncluded(frame: IncludeFrame, file: IncludedFile): void {
    const target = resolve(file.path);
    for (let f = frame.parent; f; f = f.parent) {
      if (resolve(f.path) === target) {
        this.reportOnce(frame.origin, `include loop: '${file.path}' is already being read; not included again`);
        return;
      }
    }
    if ((frame.parent?.depth ?? 0) + 1 > MAX_INCLUDE_DEPTH) {
      this.reportOnce(frame.origin, `includes nested deeper than ${MAX_INCLUDE_DEPTH}; '${file.path}' not read`);
      return;
    }
    this.openFile(file.path, file.text, frame.parent);
  }

  /** The next non-blank line of the file, comments removed, `\` continuations joined. */
  private readFileLine(frame: FileFrame): PulledLine | null {
    while (frame.next < frame.lines.length) {
      const index = frame.next++;
      const raw = frame.lines[index]!;
      if (!this.acceptable(frame, raw, index + 1)) continue;
      if (this.pendingDefinition) {
        // A truly empty line ends a multi-line definition (keepalived); blank and comment lines do not.
        if (raw.length === 0) {
          this.pendingDefinition = null;
          continue;
        }
        const body = decomment(raw, frame.path, index + 1);
        if (body.text.length > 0) this.pendingDefinition.push(body.text);
        if (!body.continued) this.pendingDefinition = null;
        continue;
      }
      const physical = decomment(raw, frame.path, index + 1);
      if (physical.text.length === 0 && !physical.continued) continue;
      if (!physical.continued) return { text: physical.text, continued: false };
      if (DEFINITION_START.test(physical.text.text)) return { text: physical.text, continued: true };
      let text = physical.text;
      let continued: boolean = physical.continued;
      while (continued && frame.next < frame.lines.length) {
        const nextIndex = frame.next;
        const nextRaw = frame.lines[nextIndex]!;
        if (nextRaw.length === 0) break;
        frame.next++;
        if (!this.acceptable(frame, nextRaw, nextIndex + 1)) break;
        const more = decomment(nextRaw, frame.path, nextIndex + 1);
        if (more.text.length > 0) {
          const joint = text.length > 0 ? SourceText.at(' ', more.text.posAt(0), true) : text.slice(0, 0);
          text = text.concat(joint).concat(more.text);
        }
        continued = more.continued;
      }
      if (text.length > 0) return { text, continued: false };
    }
    return null;
  }

  /** Over-long lines and binary data are reported and skipped. */
  private acceptable(frame: FileFrame, raw: string, line: number): boolean {
    if (raw.length > MAX_LINE_LENGTH) {
      this.reportOnce({ file: frame.path, line, column: 1 }, `line is longer than ${MAX_LINE_LENGTH} characters; ignored`);
      return false;
    }
    if (frame.textOnly) return true;
    const binary = BINARY.exec(raw);
    if (!binary) return true;
    const code = raw.charCodeAt(binary.index).toString(16).padStart(2, '0');
    this.reportOnce({ file: frame.path, line, column: binary.index + 1 }, `binary data (byte 0x${code}) in a text file; line ignored`);
    if (++frame.binaryLines >= MAX_BINARY_LINES) {
      this.reportOnce({ file: frame.path, line, column: 1 }, 'this does not look like a text file; the rest of it is ignored');
      frame.next = frame.lines.length;
    }
    return false;
  }

  reportIncludeCheck(problems: IncludeCheckProblem[]): void {
    for (const p of problems) this.reportOnce(p.token.pos, p.message, 'warning');
  }
}

interface OpenBlock {
  list: Statement[];
  /** The statement whose block this is; null for a stray `{` (its contents stay in the parent). */
  owner: Statement | null;
  open: SourcePosition;
}

function buildTree(source: LogicalLines): Statement[] {
  const root: Statement[] = [];
  const open: OpenBlock[] = [];
  let list = root;
  let depth = 0;
  let last: Statement | null = null;
  for (let line = source.next(); line; line = source.next()) {
    const c = line.text;
    if (c === '{') {
      const pos = line.posAt(0);
      if (last && !last.children && depth < MAX_BLOCK_DEPTH) {
        last.children = [];
        open.push({ list, owner: last, open: pos });
        list = last.children;
        depth++;
      } else {
        source.reportOnce(pos, depth >= MAX_BLOCK_DEPTH ? `blocks nested deeper than ${MAX_BLOCK_DEPTH}; this block is not nested further` : "'{' without a keyword before it");
        open.push({ list, owner: null, open: pos });
      }
      last = null;
      continue;
    }
    if (c === '}') {
      const block = open.pop();
      if (!block) {
        source.reportOnce(line.posAt(0), "extra '}' with no block to close");
      } else {
        list = block.list;
        if (block.owner) {
          block.owner.end = line.posAt(0);
          depth--;
        }
      }
      last = null;
      continue;
    }
    const { keyword, args, keywordEnd, unterminatedQuote } = tokenize(line);
    if (unterminatedQuote !== null) source.reportOnce(line.posAt(unterminatedQuote), 'unterminated quote: the rest of the line is taken as one string');
    if (!keyword) continue;
    const statement: Statement = { keyword, args, rest: args.length === 0 ? '' : line.text.slice(keywordEnd).trim() };
    list.push(statement);
    last = statement;
    if (statement.keyword.text === 'include_check' && !statement.keyword.quoted) {
      const problems: IncludeCheckProblem[] = [];
      source.includeChecks = applyIncludeCheck(statement.args, source.includeChecks, problems);
      source.reportIncludeCheck(problems);
    }
  }
  for (let i = open.length - 1; i >= 0; i--) {
    const block = open[i]!;
    const what = block.owner ? `block '${block.owner.keyword.text}'` : 'block';
    source.reportOnce(block.open, `${what} opened here is never closed`);
  }
  return root;
}
