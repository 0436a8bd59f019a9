// Mutated valid files: the loader never throws, never hangs, and every failure is a located
// diagnostic. The generator is seeded, so a failure reproduces.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { planTable } from '../../src/config/plan.js';
import { formatRules } from '../../src/ipvs/ipvsadm-rules.js';
import { seededRandom } from './seeded-random.js';

const dir = fileURLToPath(new URL('../fixtures/config/valid/', import.meta.url));
const seeds = readdirSync(dir).filter((f) => f.endsWith('.conf')).map((f) => readFileSync(join(dir, f), 'utf8'));

const alphabet = ['{', '}', '"', "'", '!', '#', '\\', '$', '@', '~', ' ', '\n', '-', '/', '.', ':', '0', '9', 'x', 'Z', '\t', '\u00e9', '\0'];

function mutate(text: string, rnd: () => number): string {
  const pick = (n: number): number => Math.floor(rnd() * n);
  let out = text;
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    const lines = out.split('\n');
    const at = pick(out.length + 1);
    switch (pick(7)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + 1 + pick(8));
        break;
      case 1:
        out = out.slice(0, at) + alphabet[pick(alphabet.length)]! + out.slice(at);
        break;
      case 2: {
        const i = pick(lines.length);
        lines.splice(i, 0, lines[pick(lines.length)]!);
        out = lines.join('\n');
        break;
      }
      case 3:
        lines.splice(pick(lines.length), 1);
        out = lines.join('\n');
        break;
      case 4: {
        const words = out.split(/(\s+)/);
        const i = pick(words.length);
        const j = pick(words.length);
        [words[i], words[j]] = [words[j]!, words[i]!];
        out = words.join('');
        break;
      }
      case 5:
        out = out.slice(0, at);
        break;
      default:
        out = out.slice(0, at) + String(pick(2) ? 4294967296 : -1) + out.slice(at);
    }
  }
  return out;
}

describe('fuzzed configurations', () => {
  it('never crash, never hang, and report located diagnostics', () => {
    const rnd = seededRandom(20261122);
    let rejected = 0;
    for (let i = 0; i < 400; i++) {
      const text = mutate(seeds[i % seeds.length]!, rnd);
      const started = performance.now();
      let result: ReturnType<typeof loadConfigText>;
      try {
        result = loadConfigText(text, 'fuzz.conf', { configId: 'fuzz', env: {}, readFile: () => '', random: rnd });
        if (result.config) formatRules(planTable(result.config));
      } catch (err) {
        throw new Error(`case ${i} threw ${(err as Error).stack}\n--- input ---\n${text}`);
      }
      expect(performance.now() - started, `case ${i} took too long`).toBeLessThan(2000);
      const lineCount = text.split('\n').length;
      for (const d of result.diagnostics) {
        expect(d.pos.line, `case ${i}: ${d.message}`).toBeGreaterThanOrEqual(1);
        expect(d.pos.column).toBeGreaterThanOrEqual(1);
        if (d.pos.file === 'fuzz.conf') expect(d.pos.line).toBeLessThanOrEqual(lineCount + 1);
        expect(d.message.length).toBeGreaterThan(0);
      }
      if (!result.config) {
        rejected++;
        expect(result.diagnostics.some((d) => d.severity === 'error'), `case ${i} rejected without an error`).toBe(true);
      }
    }
    // The mutations must actually break files, or this test proves nothing.
    expect(rejected).toBeGreaterThan(100);
  });
});
