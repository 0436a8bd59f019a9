import { describe, expect, it } from 'vitest';
import { SourceText, type Piece } from '../../src/config/lexer.js';

// Slices share their parent's piece table; these pin the positions that sharing must keep.
describe('SourceText positions', () => {
  const pieces: Piece[] = [
    { start: 0, file: 'a.conf', line: 1, column: 5, fixed: false },
    { start: 3, file: 'b.conf', line: 7, column: 1, fixed: false },
    { start: 5, file: 'a.conf', line: 1, column: 20, fixed: true },
    { start: 6, file: 'a.conf', line: 2, column: 3, fixed: false },
  ];
  const root = SourceText.fromPieces('abcdefghi', pieces);
  const pos = (t: SourceText, i: number) => {
    const p = t.posAt(i);
    return `${p.file}:${p.line}:${p.column}`;
  };

  it('maps every character of a slice, and of a slice of a slice, where its parent maps it', () => {
    for (let from = 0; from <= root.length; from++) {
      for (let to = from; to <= root.length; to++) {
        const s = root.slice(from, to);
        expect(s.text).toBe('abcdefghi'.slice(from, to));
        for (let i = 0; i < s.length; i++) expect(pos(s, i)).toBe(pos(root, from + i));
        for (let f = 0; f <= s.length; f++) {
          const inner = s.slice(f);
          for (let i = 0; i < inner.length; i++) expect(pos(inner, i)).toBe(pos(root, from + f + i));
        }
      }
    }
  });

  it('places the end of a slice after its last character, not at the next piece', () => {
    // "abc" ends where b.conf's piece begins: its end is still in a.conf.
    expect(pos(root.slice(0, 3), 3)).toBe('a.conf:1:8');
    expect(pos(root.slice(1, 3).slice(2), 0)).toBe('a.conf:1:8');
    // An empty slice keeps the position of the piece it is in.
    expect(pos(root.slice(4, 4), 0)).toBe('b.conf:7:2');
    expect(pos(root.slice(5, 5), 0)).toBe('a.conf:1:20');
  });

  it('keeps both sides positions through concat and splice', () => {
    const joined = root.slice(6).concat(root.slice(0, 2));
    expect(joined.text).toBe('ghiab');
    expect([0, 1, 2, 3, 4].map((i) => pos(joined, i))).toEqual(['a.conf:2:3', 'a.conf:2:4', 'a.conf:2:5', 'a.conf:1:5', 'a.conf:1:6']);
    const spliced = root.splice(3, 5, SourceText.at('XY', { file: 'c.conf', line: 9, column: 9 }, true));
    expect(spliced.text).toBe('abcXYfghi');
    expect([2, 3, 4, 5].map((i) => pos(spliced, i))).toEqual(['a.conf:1:7', 'c.conf:9:9', 'c.conf:9:9', 'a.conf:1:20']);
  });
});
