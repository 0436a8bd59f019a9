// The configuration corpus: valid files load with no diagnostic and plan the expected table;
// auto-corrected files load with exactly the expected warnings; invalid files fail with
// exactly the expected diagnostics, all of them in one run.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfig } from '../../src/config/load.js';
import { planTable } from '../../src/config/plan.js';
import { formatRules } from '../../src/ipvs/ipvsadm-rules.js';

const corpus = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const files = (dir: string): string[] => readdirSync(join(corpus, dir)).filter((f) => f.endsWith('.conf')).sort();

function load(path: string) {
  const result = loadConfig(path, { configId: 'corpus', env: {} });
  const lines = result.diagnostics.map((d) => formatDiagnostic(d).replace(path, 'FILE'));
  return { ...result, lines };
}

function expectedLines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
}

function expectPlan(confPath: string, config: NonNullable<ReturnType<typeof load>['config']>): void {
  const planPath = confPath.replace(/\.conf$/, '.plan');
  const plan = formatRules(planTable(config));
  if (existsSync(planPath)) expect(plan).toEqual(expectedLines(planPath));
  else expect(plan).toEqual([]);
}

describe('valid corpus', () => {
  it('has files', () => expect(files('valid').length).toBeGreaterThanOrEqual(7));
  for (const name of files('valid')) {
    it(`${name} loads cleanly and plans the expected table`, () => {
      const path = join(corpus, 'valid', name);
      const { config, lines } = load(path);
      expect(lines).toEqual([]);
      expect(config).toBeDefined();
      expectPlan(path, config!);
    });
  }
});

describe('auto-corrected corpus', () => {
  for (const name of files('autocorrect')) {
    it(`${name} loads with the warnings keepalived's corrections deserve`, () => {
      const path = join(corpus, 'autocorrect', name);
      const { config, lines, diagnostics } = load(path);
      expect(lines).toEqual(expectedLines(path.replace(/\.conf$/, '.expected')));
      expect(diagnostics.every((d) => d.severity === 'warning')).toBe(true);
      expect(config).toBeDefined();
      expectPlan(path, config!);
    });
  }
});

describe('invalid corpus', () => {
  for (const name of files('invalid')) {
    it(`${name} is rejected with every expected diagnostic`, () => {
      const path = join(corpus, 'invalid', name);
      const { config, lines } = load(path);
      expect(config).toBeUndefined();
      expect(lines).toEqual(expectedLines(path.replace(/\.conf$/, '.expected')));
    });
  }
});
