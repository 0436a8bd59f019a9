// `$NAME=VALUE` definitions and their substitution as `$NAME` / `${NAME}`, with keepalived's
// predefined names. Values are substituted when used, not when defined, and recursively.

import { dirname } from 'node:path';
import type { SourcePosition } from './ast.js';
import { SourceText } from './lexer.js';

/** Substitutions in one line beyond this are taken as a definition that refers to itself. */
const MAX_SUBSTITUTIONS = 1000;
/** A line that grows past this while substituting is taken as runaway recursion. */
export const MAX_EXPANDED_LENGTH = 65536;

interface TextDefinition {
  kind: 'text';
  /** One entry for an ordinary definition; a multi-line definition has one per line. */
  lines: SourceText[];
  multiline: boolean;
}

interface PredefinedDefinition {
  kind: 'predefined';
  minParams: number;
  maxParams: number;
  numbersOnly: boolean;
  value: (params: string[], pos: SourcePosition) => string;
}

type Definition = TextDefinition | PredefinedDefinition;

export interface DefinitionEnvironment {
  /** The absolute path of the file being read, for `${_PWD}`. */
  currentFile: () => string;
  instance: string;
  env: Readonly<Record<string, string | undefined>>;
  random: () => number;
  report: (pos: SourcePosition, message: string) => void;
}

export interface ParsedDefinition {
  name: string;
  value: SourceText;
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** `$NAME=VALUE` (no blank before `=`); null when the line is not a definition. */
export function parseDefinition(line: SourceText): ParsedDefinition | null {
  const text = line.text;
  if (text.charCodeAt(0) !== 0x24 || !NAME_START.test(text.charAt(1))) return null;
  let i = 2;
  while (i < text.length && NAME_CHAR.test(text.charAt(i))) i++;
  if (text.charCodeAt(i) !== 0x3d /* = */) return null;
  return { name: text.slice(1, i), value: line.slice(i + 1).trim() };
}

/** A multi-line definition referenced at the end of a line: its lines after the first. */
export interface MultilineExpansion {
  name: string;
  /** The definition's lines (identity tells one definition from its redefinition). */
  definition: readonly SourceText[];
  rest: SourceText[];
}

export interface Substitution {
  text: SourceText;
  /** Multi-line definitions whose further lines follow, in reading order (innermost first). */
  expansions: MultilineExpansion[];
  changed: boolean;
  /** Runaway recursion was found and reported; the text is not to be rescanned. */
  stopped: boolean;
}

export class Definitions {
  private readonly table = new Map<string, Definition>();

  constructor(private readonly environment: DefinitionEnvironment) {
    const predefined = (
      name: string,
      value: PredefinedDefinition['value'],
      minParams = 0,
      maxParams = 0,
      numbersOnly = false,
    ): void => {
      this.table.set(name, { kind: 'predefined', minParams, maxParams, numbersOnly, value });
    };
    predefined('_PWD', () => dirname(environment.currentFile()));
    predefined('_INSTANCE', () => environment.instance);
    predefined('_RANDOM', (params, pos) => this.randomValue(params, pos), 0, 2, true);
    predefined('_ENV', (params) => environment.env[params[0]!] ?? '', 1, 1);
    predefined('_HASH', () => '#');
    predefined('_BANG', () => '!');
  }

  /** Defines (or redefines, including a predefined name) NAME as a one-line value. */
  define(name: string, value: SourceText): void {
    this.table.set(name, { kind: 'text', lines: [value], multiline: false });
  }

  /** Starts a multi-line definition; the caller appends the following lines to the array returned. */
  defineMultiline(name: string, first: SourceText): SourceText[] {
    const lines = [first];
    this.table.set(name, { kind: 'text', lines, multiline: true });
    return lines;
  }

  /**
   * Replaces every `$NAME` (followed by blank, `,`, `)` or the end) and `${NAME}` whose NAME is
   * defined; undefined ones stay as written. The replacement is rescanned, so values may refer to
   * other definitions. A multi-line definition is only replaced at the end of a line: its first
   * line takes the reference's place and the others come back in `expansions`.
   */
  substitute(line: SourceText): Substitution {
    let text = line;
    const expansions: MultilineExpansion[] = [];
    let changed = false;
    let stopped = false;
    let count = 0;
    // Text inserted for each definition still being scanned: a reference to one of these names
    // inside its own value would never end.
    const active: { name: string; end: number }[] = [];
    let i = 0;
    for (;;) {
      const s = text.text;
      const dollar = s.indexOf('$', i);
      if (dollar < 0 || dollar + 1 >= s.length) break;
      while (active.length > 0 && active[active.length - 1]!.end <= dollar) active.pop();
      const ref = this.parseReference(s, dollar);
      const def = ref && this.table.get(ref.name);
      if (!ref || !def || !this.accepts(def, ref, s.length, text.posAt(dollar))) {
        i = dollar + 1;
        continue;
      }
      if (def.kind === 'text' && active.some((a) => a.name === ref.name)) {
        this.environment.report(text.posAt(dollar), `definition '${ref.name}' refers to itself; left as written`);
        stopped = true;
        i = dollar + 1;
        continue;
      }
      if (++count > MAX_SUBSTITUTIONS) {
        this.environment.report(text.posAt(dollar), `definitions expand more than ${MAX_SUBSTITUTIONS} times on one line (does '${ref.name}' refer to itself?); substitution stopped`);
        stopped = true;
        break;
      }
      let value: SourceText;
      if (def.kind === 'predefined') {
        const pos = text.posAt(dollar);
        value = SourceText.at(def.value(ref.params, pos), pos, true);
      } else {
        value = def.lines[0]!;
        if (def.multiline) expansions.unshift({ name: ref.name, definition: def.lines, rest: def.lines.slice(1) });
      }
      if (s.length - (ref.end - dollar) + value.length > MAX_EXPANDED_LENGTH) {
        this.environment.report(text.posAt(dollar), `substituting '${ref.name}' makes the line longer than ${MAX_EXPANDED_LENGTH} characters; substitution stopped`);
        stopped = true;
        break;
      }
      text = text.splice(dollar, ref.end, value);
      const delta = value.length - (ref.end - dollar);
      for (const a of active) a.end += delta;
      active.push({ name: ref.name, end: dollar + value.length });
      changed = true;
      i = dollar;
      // keepalived stops here so that a value starting with ~SEQ/~LST is expanded as a generator.
      if (/^[ \t]*~/.test(value.text)) break;
    }
    return { text, expansions, changed, stopped };
  }

  private parseReference(s: string, dollar: number): Reference | null {
    const braces = s.charCodeAt(dollar + 1) === 0x7b;
    const nameStart = dollar + (braces ? 2 : 1);
    if (!NAME_START.test(s.charAt(nameStart))) return null;
    let p = nameStart + 1;
    while (p < s.length && NAME_CHAR.test(s.charAt(p))) p++;
    const name = s.slice(nameStart, p);
    if (!braces) {
      const c = s.charAt(p);
      if (p < s.length && c !== ' ' && c !== '\t' && c !== ',' && c !== ')') return null;
      return { name, params: [], end: p };
    }
    const paramStart = p;
    while (p < s.length && /[ \tA-Za-z0-9_]/.test(s.charAt(p))) p++;
    if (s.charCodeAt(p) !== 0x7d) return null;
    const paramText = s.slice(paramStart, p);
    if (/[ \t]$/.test(paramText) && paramText.trim() !== '') return null;
    const params = paramText.trim() === '' ? [] : paramText.trim().split(/[ \t]+/);
    return { name, params, end: p + 1 };
  }

  private accepts(def: Definition, ref: Reference, lineLength: number, pos: SourcePosition): boolean {
    if (def.kind === 'text') {
      if (ref.params.length > 0) return false;
      return !def.multiline || ref.end === lineLength;
    }
    if (ref.params.length === 0 && def.minParams === 0) return true;
    if (ref.params.length < def.minParams || ref.params.length > def.maxParams) {
      this.environment.report(pos, `\${${ref.name}} takes ${def.minParams === def.maxParams ? def.minParams : `${def.minParams} to ${def.maxParams}`} parameter(s), ${ref.params.length} given`);
      return false;
    }
    if (def.numbersOnly && !ref.params.every((p) => /^[0-9]+$/.test(p))) {
      this.environment.report(pos, `\${${ref.name}} takes numbers only`);
      return false;
    }
    return true;
  }

  private randomValue(params: string[], pos: SourcePosition): string {
    let min = params.length > 0 ? Number(params[0]) : 0;
    let max = params.length > 1 ? Number(params[1]) : 32767;
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max)) {
      this.environment.report(pos, '${_RANDOM}: bounds are too large');
      min = 0;
      max = 32767;
    }
    if (min > max) {
      this.environment.report(pos, `\${_RANDOM}: min ${min} exceeds max ${max}, using ${min}`);
      max = min;
    }
    return String(Math.min(max, min + Math.floor(this.environment.random() * (max - min + 1))));
  }
}

interface Reference {
  name: string;
  params: string[];
  /** Offset just past the reference. */
  end: number;
}
