// Every example configuration is valid for ipvsd and for keepalived (when installed), and
// `ipvsd --plan` prints what the example's README says it prints.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/ipvsd.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const directories = readdirSync(examples, { withFileTypes: true })
  // systemd, prometheus and grafana hold no keepalived.conf (examples-monitoring.test.ts checks the last two).
  .filter((e) => e.isDirectory() && !['systemd', 'prometheus', 'grafana'].includes(e.name))
  .map((e) => e.name)
  .sort();
const configs = directories.flatMap((dir) =>
  readdirSync(join(examples, dir))
    .filter((f) => f.endsWith('.conf'))
    .sort()
    .map((file) => ({ dir, file, path: join(examples, dir, file) })),
);
const keepalivedInstalled = spawnSync('keepalived', ['--version'], { stdio: 'ignore' }).error === undefined;

async function ipvsd(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

/** What the README says `ipvsd --plan -f FILE` prints: a fenced block, or "prints nothing". */
/**
 * Scripts are referenced where the README installs them, and both ipvsd and keepalived check that
 * they exist and are safe, so the check runs on a copy pointing at the example's own scripts in a
 * private directory.
 */
async function installed<T>(dir: string, file: string, check: (path: string) => Promise<T>): Promise<T> {
  const scratch = mkdtempSync(join(tmpdir(), 'ipvsd-example-'));
  try {
    for (const f of readdirSync(join(examples, dir))) copyFileSync(join(examples, dir, f), join(scratch, f));
    const text = readFileSync(join(examples, dir, file), 'utf8').replaceAll('/etc/keepalived/', `${scratch}/`);
    writeFileSync(join(scratch, file), text);
    return await check(join(scratch, file));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function claimedPlan(dir: string, file: string): string | undefined {
  const readme = readFileSync(join(examples, dir, 'README.md'), 'utf8');
  const command = `\`ipvsd --plan -f ${file}\` prints`;
  const at = readme.indexOf(command);
  if (at < 0) return undefined;
  const rest = readme.slice(at + command.length);
  if (rest.startsWith(' nothing')) return '';
  const block = /^:\n\n```\n([\s\S]*?)```\n/.exec(rest);
  return block?.[1];
}

describe('examples', () => {
  it('has the four setups and the systemd unit', () => {
    expect(directories).toEqual(['dual-master', 'lvs-dr', 'lvs-nat', 'nginx-pair']);
    expect(configs.length).toBeGreaterThanOrEqual(6);
    const unit = readFileSync(join(examples, 'systemd/ipvsd.service'), 'utf8');
    for (const line of ['Type=notify', 'WatchdogSec=', 'ExecReload=/bin/kill -HUP $MAINPID', 'AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW']) {
      expect(unit).toContain(line);
    }
    expect(readFileSync(join(examples, 'README.md'), 'utf8')).toContain('systemd/ipvsd.service');
  });

  it.each(configs)('$dir/$file passes ipvsd -t with nothing to say', async ({ dir, file }) => {
    expect(await installed(dir, file, (path) => ipvsd(['-t', '-f', path]))).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it.each(configs)('$dir/$file: --plan prints what the README says', async ({ dir, file }) => {
    const claim = claimedPlan(dir, file);
    expect(claim, `examples/${dir}/README.md shows no \`ipvsd --plan -f ${file}\` output`).toBeDefined();
    const { code, stdout, stderr } = await installed(dir, file, (path) => ipvsd(['--plan', '-f', path]));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toBe(claim);
  });

  it.skipIf(!keepalivedInstalled).each(configs)('$dir/$file passes keepalived -t', async ({ dir, file }) => {
    const result = await installed(dir, file, async (path) => spawnSync('keepalived', ['-t', '-f', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({ status: 0, output: '' });
  });

  it('the nginx watch script passes while nginx runs, restarts it once, and fails when that does not help', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'ipvsd-nginx-'));
    try {
      const pidfile = join(scratch, 'nginx.pid');
      const script = readFileSync(join(examples, 'nginx-pair/check_nginx.sh'), 'utf8')
        .replace('pidfile=/run/nginx.pid', `pidfile=${pidfile}`)
        .replace('sleep 1', 'sleep 0');
      writeFileSync(join(scratch, 'check.sh'), script, { mode: 0o755 });
      // Stand-ins for systemctl and service, first on PATH, so nothing on this machine is restarted.
      const restart = (works: boolean): void => {
        const body = works ? `echo ${process.pid} > ${pidfile}; echo "$@" >> ${scratch}/calls` : `echo "$@" >> ${scratch}/calls; exit 1`;
        for (const tool of ['systemctl', 'service']) writeFileSync(join(scratch, tool), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      };
      const env = { PATH: `${scratch}:/usr/bin:/bin`, HOME: scratch };
      const check = (): number | null => spawnSync('/bin/sh', [join(scratch, 'check.sh')], { env, stdio: 'ignore' }).status;
      const calls = (): string => readFileSync(join(scratch, 'calls'), 'utf8');

      restart(false);
      writeFileSync(pidfile, `${process.pid}\n`);
      expect(check()).toBe(0);
      writeFileSync(pidfile, '');
      expect(check()).toBe(1);
      expect(calls()).toBe('restart nginx\nnginx restart\n');
      restart(true);
      expect(check()).toBe(0);
      expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(process.pid));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
