// The table-driven block walker: each block kind lists its keywords, so unknown keywords,
// did-you-mean suggestions and "keepalived has it, ipvsd does not" warnings come from one place.
import type { Statement } from './ast.js';
import { suggest } from './suggest.js';
import type { ParseContext } from './values.js';

export interface Keyword<T> {
  name: string;
  aliases?: readonly string[];
  /** Aliases keepalived still accepts but has deprecated; a warning names the replacement. */
  deprecated?: readonly string[];
  /** 'block' requires `{ ... }`; 'line' (the default) forbids it. */
  shape?: 'block' | 'line';
  handle(target: T, st: Statement, cx: ParseContext): void;
}

export class KeywordTable<T> {
  private readonly byName = new Map<string, Keyword<T>>();

  /**
   * @param block the block's name as operators write it, for messages
   * @param unsupported keepalived keywords ipvsd accepts and ignores, with the reason
   */
  constructor(
    readonly block: string,
    keywords: readonly Keyword<T>[],
    private readonly unsupported: Readonly<Record<string, string>> = {},
  ) {
    for (const k of keywords) {
      for (const name of [k.name, ...(k.aliases ?? []), ...(k.deprecated ?? [])]) this.byName.set(name, k);
    }
  }

  apply(target: T, statements: readonly Statement[], cx: ParseContext): void {
    for (const st of statements) this.applyOne(target, st, cx);
  }

  private applyOne(target: T, st: Statement, cx: ParseContext): void {
    const word = st.keyword.text;
    const keyword = this.byName.get(word);
    if (!keyword) {
      const reason = this.unsupported[word];
      if (reason !== undefined) {
        cx.warning(st, `\`${word}\` is not supported by ipvsd yet (${reason}); ignored`);
        return;
      }
      const near = suggest(word, this.byName.keys());
      cx.error(st, `unknown keyword \`${word}\` in ${this.block}${near ? `; did you mean \`${near}\`?` : ''}`);
      return;
    }
    if (keyword.deprecated?.includes(word)) {
      cx.warning(st, `\`${word}\` is deprecated; use \`${keyword.name}\``);
    }
    const isBlock = (keyword.shape ?? 'line') === 'block';
    if (isBlock && !st.children) {
      cx.error(st, `\`${word}\` needs a \`{ ... }\` block`);
      return;
    }
    if (!isBlock && st.children) {
      cx.error(st, `\`${word}\` does not take a \`{ ... }\` block`);
      return;
    }
    keyword.handle(target, st, cx);
  }
}
