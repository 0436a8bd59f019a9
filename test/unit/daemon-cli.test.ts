// `ipvsd -f FILE` (the daemon mode) on the host, whose kernel has no IPVS: one sentence, exit 1.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/ipvsd.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const compiled = join(repo, 'dist/src/cli/ipvsd.js');
const scratch = mkdtempSync(join(tmpdir(), 'ipvsd-daemon-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const valid = join(scratch, 'valid.conf');
writeFileSync(valid, 'virtual_server 10.99.0.100 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 127.0.0.11 8080 {\n    TCP_CHECK {\n    }\n  }\n}\n');
const invalid = join(scratch, 'invalid.conf');
writeFileSync(invalid, 'virtual_server 10.99.0.100 80 {\n  lb_algo rr\n  protocol TCP\n  real_server 127.0.0.11 8080 {\n    wieght 1\n  }\n}\n');

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('ipvsd daemon mode', () => {
  it('prints its version with -v and exits 0', async () => {
    const r = await run('-v');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ipvsd \d+\.\d+\.\d+\n$/);
  });

  it('says in one sentence that IPVS is missing and exits 1', async () => {
    const r = await run('-f', valid, '--log-level', 'silent');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ipvsd: IPVS is not available: [^\n]+modprobe ip_vs[^\n]+\n$/);
  });

  it('prints every diagnostic of an invalid file, then one sentence, and exits 1', async () => {
    const r = await run('-f', invalid);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines[0]).toBe(`${invalid}:5:5: error: unknown keyword \`wieght\` in real_server; did you mean \`weight\`?`);
    expect(lines.at(-1)).toBe(`ipvsd: ${invalid} is not valid; ipvsd did not start`);
  });

  it('rejects an unknown log level and an unreadable file before starting', async () => {
    expect(await run('-f', valid, '--log-level', 'loud')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'ipvsd: unknown log level `loud`; use one of fatal, error, warn, info, debug, trace, silent\n',
    });
    expect((await run('-f', join(scratch, 'absent.conf'))).stderr).toBe(`ipvsd: cannot read ${join(scratch, 'absent.conf')}: no such file\n`);
  });

  it('the compiled CLI exits 1 with the one sentence and no stack trace', () => {
    expect(existsSync(compiled), `${compiled} is missing: run "npm run build:ts" first`).toBe(true);
    const r = spawnSync(process.execPath, [compiled, '-f', valid], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^ipvsd: IPVS is not available: /);
  });
});
