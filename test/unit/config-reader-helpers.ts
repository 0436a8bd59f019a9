// Compact views of reader output so that tests can assert whole trees with positions.

import type { Diagnostic, Statement, Token } from '../../src/config/ast.js';
import { formatDiagnostic } from '../../src/config/ast.js';

const at = (t: Token): string => `${t.quoted ? JSON.stringify(t.text) : t.text}@${t.pos.line}:${t.pos.column}`;

/** `keyword@L:C arg@L:C ...`, with children nested as arrays. */
export function outline(statements: Statement[]): unknown[] {
  const out: unknown[] = [];
  for (const s of statements) {
    out.push([s.keyword, ...s.args].map(at).join(' '));
    if (s.children) out.push(outline(s.children));
  }
  return out;
}

/** Keyword and argument texts only, one string per statement, children indented. */
export function texts(statements: Statement[], indent = ''): string[] {
  return statements.flatMap((s) => [
    indent + [s.keyword, ...s.args].map((t) => t.text).join(' '),
    ...(s.children ? texts(s.children, `${indent}  `) : []),
  ]);
}

export function messages(diagnostics: Diagnostic[]): string[] {
  return diagnostics.map(formatDiagnostic);
}

/** An in-memory file system for `readFile`. */
export function memoryFiles(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = files[path];
    if (text === undefined) {
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    }
    return text;
  };
}
