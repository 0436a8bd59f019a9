// Differential against keepalived's own config test (Debian's keepalived 2.2.7): a valid
// corpus file is clean for both; keepalived reports something for every file where ipvsd
// warns about an auto-correction; and keepalived also objects to every file ipvsd rejects.
// keepalived -t exits 0 only for a file it has nothing to say about, so its exit code cannot
// tell an auto-correction from an error: that is why the three corpora are compared apart.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

const keepalived = ['/usr/sbin/keepalived', '/usr/local/sbin/keepalived'].find((p) => existsSync(p));
const corpus = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const files = (dir: string): string[] => readdirSync(join(corpus, dir)).filter((f) => f.endsWith('.conf')).sort().map((f) => join(corpus, dir, f));

function keepalivedCheck(path: string): { code: number | null; output: string } {
  const r = spawnSync(keepalived!, ['-t', '-l', '-D', '-f', path], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

function ipvsdCheck(path: string) {
  const { config, diagnostics } = loadConfig(path, { configId: 'corpus', env: {} });
  return { valid: config !== undefined, diagnostics };
}

describe.skipIf(!keepalived)('keepalived -t agrees with ipvsd -t', () => {
  for (const path of files('valid')) {
    it(`valid/${path.split('/').pop()}: both are clean`, () => {
      const k = keepalivedCheck(path);
      expect(k.output.trim(), 'keepalived output').toBe('');
      expect(k.code).toBe(0);
      expect(ipvsdCheck(path)).toEqual({ valid: true, diagnostics: [] });
    });
  }

  for (const path of files('autocorrect')) {
    it(`autocorrect/${path.split('/').pop()}: keepalived corrects, ipvsd warns and accepts`, () => {
      const k = keepalivedCheck(path);
      expect(k.code, k.output).not.toBe(0);
      const i = ipvsdCheck(path);
      expect(i.valid).toBe(true);
      expect(i.diagnostics.length).toBeGreaterThan(0);
    });
  }

  for (const path of files('invalid')) {
    it(`invalid/${path.split('/').pop()}: keepalived objects, ipvsd rejects`, () => {
      const k = keepalivedCheck(path);
      expect(k.code, k.output).not.toBe(0);
      expect(ipvsdCheck(path).valid).toBe(false);
    });
  }
});
