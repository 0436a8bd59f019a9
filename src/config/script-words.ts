// keepalived re-reads script lines (notify*, misc_path, script, quorum_up/down) with a richer
// tokenizer than the rest of the file: '"' and "'" quoting, and C-like escapes, even inside quotes.

export class ScriptSyntaxError extends Error {
  readonly code = 'SCRIPT_SYNTAX';
}

const simpleEscapes: Record<string, string> = {
  a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
};

function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

function isOctal(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '7';
}

/** Splits a script line into words the way keepalived's `alloc_strvec_quoted_escaped` does. */
export function scriptWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && /\s/.test(line[i]!)) i++;
    if (i >= n) break;
    let word = '';
    let quote = '';
    while (i < n) {
      const c = line[i]!;
      if (c === '\\') {
        i++;
        if (i >= n) throw new ScriptSyntaxError(`missing escaped character at the end of "${line}"`);
        const e = line[i]!;
        if (e === 'x' && isHex(line[i + 1])) {
          let value = 0;
          i++;
          while (isHex(line[i])) value = ((value << 4) | parseInt(line[i++]!, 16)) & 0xff;
          word += String.fromCharCode(value);
        } else if (e === 'c' && i + 1 < n) {
          word += String.fromCharCode(line.charCodeAt(i + 1) & 0x1f);
          i += 2;
        } else if (isOctal(e)) {
          let value = 0;
          for (let k = 0; k < 3 && isOctal(line[i]); k++) value = value * 8 + Number(line[i++]);
          word += String.fromCharCode(value & 0xff);
        } else {
          word += simpleEscapes[e] ?? e;
          i++;
        }
        continue;
      }
      if (quote) {
        if (c === quote) quote = '';
        else word += c;
        i++;
        continue;
      }
      if (c === '"' || c === "'") {
        quote = c;
        i++;
        continue;
      }
      if (/\s/.test(c)) break;
      word += c;
      i++;
    }
    if (quote) throw new ScriptSyntaxError(`missing closing ${quote} in "${line}"`);
    words.push(word);
  }
  return words;
}
