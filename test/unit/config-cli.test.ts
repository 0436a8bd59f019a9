// `ipvsd -t`, `--plan` and `--dump-config`: exit codes, output streams and messages.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/ipvsd.js';

const fixture = (path: string): string => fileURLToPath(new URL(`../fixtures/config/${path}`, import.meta.url));

function run(...argv: string[]): { code: number; stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  const code = main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  if (typeof code !== 'number') throw new Error('main started the daemon');
  return { code, stdout, stderr };
}

const scratch = mkdtempSync(join(tmpdir(), 'ipvsd-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('ipvsd -t', () => {
  it('exits 0 and prints nothing for a valid file', () => {
    expect(run('-t', '-f', fixture('valid/lvs-dr-wrr.conf'))).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('exits 0 and prints the warnings for an auto-corrected file', () => {
    const r = run('--check-config', '--config', fixture('autocorrect/lvs.conf'));
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(10);
    expect(r.stderr).toContain(`${fixture('autocorrect/lvs.conf')}:2:1: warning: virtual server 10.4.0.1:80 has no \`protocol\``);
  });

  it('exits 1 with one line per problem for an invalid file', () => {
    const r = run('-t', '-f', fixture('invalid/misspelled.conf'));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(5);
    expect(r.stderr).toContain('did you mean `delay_before_retry`?');
  });

  it('says in one sentence that a file cannot be read', () => {
    const r = run('-t', '-f', join(scratch, 'absent.conf'));
    expect(r).toEqual({ code: 1, stdout: '', stderr: `ipvsd: cannot read ${join(scratch, 'absent.conf')}: no such file\n` });
    expect(run('-t', '-f', scratch).stderr).toBe(`ipvsd: cannot read ${scratch}: it is a directory\n`);
  });

  it('matches @ID lines against --config-id', () => {
    const path = join(scratch, 'conditional.conf');
    writeFileSync(path, '@lb1 global_defs {\n@lb1   router_id ONE\n@lb1 }\n@lb2 bogus_keyword\n');
    expect(run('-t', '-i', 'lb1', '-f', path).code).toBe(0);
    expect(run('-t', '-i', 'lb2', '-f', path).code).toBe(1);
  });
});

describe('ipvsd --plan and --dump-config', () => {
  it('follows include, with positions in the included file', () => {
    const dir = mkdtempSync(join(scratch, 'include-'));
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'main.conf'), 'global_defs {\n  router_id INC\n}\ninclude conf.d/*.conf\n');
    writeFileSync(
      join(dir, 'conf.d', 'web.conf'),
      'virtual_server 10.7.0.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 10.7.1.1 8080 {\n    wieght 1\n  }\n}\n',
    );
    const r = run('--plan', '-f', join(dir, 'main.conf'));
    expect(r.stderr).toBe(`${join(dir, 'conf.d', 'web.conf')}:6:5: error: unknown keyword \`wieght\` in real_server; did you mean \`weight\`?\n`);
    writeFileSync(join(dir, 'conf.d', 'web.conf'), readFileSync(join(dir, 'conf.d', 'web.conf'), 'utf8').replace('wieght', 'weight'));
    expect(run('--plan', '-f', join(dir, 'main.conf')).stdout).toBe('-A -t 10.7.0.1:80 -s rr\n-a -t 10.7.0.1:80 -r 10.7.1.1:8080 -m -w 1\n');
  });

  it('prints the planned table in ipvsadm -Sn syntax', () => {
    const r = run('--plan', '-f', fixture('valid/lvs-dr-wrr.conf'));
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        '-A -t 192.0.2.10:80 -s wrr -p 50',
        '-a -t 192.0.2.10:80 -r 198.51.100.11:80 -g -w 1',
        '-a -t 192.0.2.10:80 -r 198.51.100.12:80 -g -w 5',
        '',
      ].join('\n'),
    });
  });

  it('prints the model as JSON with absent settings as null', () => {
    const r = run('--dump-config', '-f', fixture('valid/lvs-dr-wrr.conf'));
    expect(r.code).toBe(0);
    const model = JSON.parse(r.stdout);
    expect(model.virtualServers[0].scheduler).toBe('wrr');
    expect(model.virtualServers[0].sorryServer).toBeNull();
    expect(model.virtualServers[0].realServers[1].checkers[0].retry).toBe(1);
  });

  it('hides passwords in the dump', () => {
    const r = run('--dump-config', '-f', fixture('valid/nginx-pair-master.conf'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).vrrpInstances[0].authentication.password).toBe('(hidden)');
  });

  it('prints nothing on stdout for an invalid file', () => {
    const r = run('--plan', '-f', fixture('invalid/bad-values.conf'));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
  });
});

describe('usage', () => {
  it('exits 2 for unknown options or several modes', () => {
    expect(run('--bogus').code).toBe(2);
    expect(run('-t', '--plan').stderr).toBe('ipvsd: use only one of -t, --plan and --dump-config\n');
  });

  it('prints help on stdout and exits 0', () => {
    const r = run('-h');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--dump-config');
  });
});
