// The table `ipvsd --plan` prints equals the one keepalived's checker process programs into
// the kernel for the same file, with every real server up. Checker blocks and `alpha` are
// stripped first, so keepalived has nothing that could take a server out before the compare.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ipvsadm, savedRules } from '../lab/ipvsadm.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const corpus = join(repo, 'test/fixtures/config');
/** The compiled CLI; IPVSD_CLI points elsewhere when the build went to another directory. */
const cli = process.env.IPVSD_CLI ?? join(repo, 'dist/src/cli/ipvsd.js');
const checkerBlocks = /^\s*(TCP_CHECK|HTTP_GET|SSL_GET|PING_CHECK|UDP_CHECK|DNS_CHECK|SMTP_CHECK|MISC_CHECK|FILE_CHECK)\b/;

const table = savedRules;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The corpus files that define virtual servers (the ones with an expected plan). */
const cases = ['valid', 'autocorrect'].flatMap((dir) =>
  readdirSync(join(corpus, dir))
    .filter((f) => f.endsWith('.plan'))
    .map((f) => join(dir, f.replace(/\.plan$/, '.conf'))),
);

/** Drops checker blocks (brace-matched, one statement per line as in the corpus) and alpha. */
function withoutCheckers(text: string): string {
  const out: string[] = [];
  let depth = 0;
  for (const line of text.split('\n')) {
    if (depth > 0) {
      depth += (line.match(/{/g)?.length ?? 0) - (line.match(/}/g)?.length ?? 0);
      continue;
    }
    if (checkerBlocks.test(line)) {
      depth = (line.match(/{/g)?.length ?? 0) - (line.match(/}/g)?.length ?? 0);
      continue;
    }
    if (/^\s*alpha\s*$/.test(line)) continue;
    out.push(line);
  }
  return out.join('\n');
}

/** Polls until two reads 300 ms apart agree and the table is not empty. */
async function stableTable(timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let previous = table();
  while (Date.now() < deadline) {
    await sleep(300);
    const current = table();
    if (current.length > 0 && current.join('\n') === previous.join('\n')) return current;
    previous = current;
  }
  return previous;
}

let scratch: string | undefined;
let keepalived: ReturnType<typeof spawn> | undefined;

afterEach(async () => {
  if (keepalived?.pid !== undefined && keepalived.exitCode === null) {
    const exited = new Promise((r) => keepalived!.once('exit', r));
    process.kill(keepalived.pid, 'SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
  }
  keepalived = undefined;
  ipvsadm('-C');
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
});

describe('ipvsd --plan against keepalived in the kernel', () => {
  it('has the compiled CLI and the corpus', () => {
    expect(existsSync(cli), `${cli} is missing: run \`npm run build:ts\` first`).toBe(true);
    expect(cases.length).toBeGreaterThanOrEqual(4);
  });

  for (const name of cases) {
    it(`${name}: the same table`, async () => {
      ipvsadm('-C');
      scratch = mkdtempSync(join(tmpdir(), 'ipvsd-diff-'));
      const path = join(scratch, 'keepalived.conf');
      writeFileSync(path, withoutCheckers(readFileSync(join(corpus, name), 'utf8')));

      const plan = execFileSync(process.execPath, [cli, '--plan', '-f', path], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
      expect(plan.length).toBeGreaterThan(0);

      keepalived = spawn(
        'keepalived',
        ['-n', '-l', '-D', '-C', '-f', path, '-p', join(scratch, 'keepalived.pid'), '-c', join(scratch, 'checkers.pid')],
        { stdio: 'ignore' },
      );
      const programmed = await stableTable(20_000);
      expect(programmed).toEqual([...plan].sort());
    });
  }
});
