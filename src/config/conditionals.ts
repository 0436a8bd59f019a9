// `@ID line` keeps the line only on the director whose config id is ID; `@^ID line` everywhere else.

import { isWhite, type SourceText } from './lexer.js';

/**
 * Returns the line without its `@ID ` prefix when it applies to `configId`, null when it does not.
 * A line that is only `@ID` has nothing to keep (keepalived drops it too).
 */
export function applyConditional(line: SourceText, configId: string): SourceText | null {
  const text = line.text;
  const negated = text.charCodeAt(1) === 0x5e; /* ^ */
  const idStart = negated ? 2 : 1;
  let idEnd = idStart;
  while (idEnd < text.length && !isWhite(text.charCodeAt(idEnd))) idEnd++;
  if (idEnd >= text.length) return null;
  const matches = text.slice(idStart, idEnd) === configId;
  if (matches === negated) return null;
  let rest = idEnd;
  while (rest < text.length && isWhite(text.charCodeAt(rest))) rest++;
  return line.slice(rest);
}
