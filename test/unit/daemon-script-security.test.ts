// script_user and enable_script_security as keepalived applies them at load: the default user for
// every kind of script, uid switching when they run, and unsafe root scripts disabled (or only
// warned about) with a file:line:col diagnostic.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { miscProbe } from '../../checkers/misc.js';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText } from '../../src/config/load.js';
import type { KeepalivedConfig, MiscCheck } from '../../src/config/model.js';
import { configScripts } from '../../src/daemon/config-scripts.js';
import { checkScript, defaultScriptUser, prepareScripts, type SystemFiles } from '../../src/daemon/script-security.js';
import { ProcessScriptRunner } from '../../src/vrrp/script-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'ipvsd-script-security-'));
chmodSync(dir, 0o755); // scripts run as nobody must reach their files
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOBODY = 65534;

function script(name: string, mode = 0o755, body = '#!/bin/sh\nexit 0\n'): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  chmodSync(path, mode);
  return path;
}

/** passwd / group files where keepalived_script exists (as uid 65534) or not. */
function files(withDefaultUser: boolean): SystemFiles {
  const passwd = join(dir, withDefaultUser ? 'passwd-ks' : 'passwd');
  writeFileSync(passwd, `root:x:0:0:root:/root:/bin/sh\nnobody:x:${NOBODY}:${NOBODY}::/:/bin/false\n${withDefaultUser ? `keepalived_script:x:${NOBODY}:${NOBODY}::/:/bin/false\n` : ''}`);
  const group = join(dir, 'group');
  writeFileSync(group, `root:x:0:\nnogroup:x:${NOBODY}:\n`);
  return { passwd, group, path: '/usr/bin:/bin' };
}

function load(text: string): KeepalivedConfig {
  const { config, diagnostics } = loadConfigText(text, 'test.conf', { configId: 'lb1' });
  expect(config, diagnostics.map((d) => d.message).join('\n')).toBeDefined();
  return config!;
}

function conf(globals: string, paths: { notify: string; misc: string; track: string; fifo: string; quorum: string; master: string }): string {
  return `global_defs {
${globals}
    lvs_notify_fifo ${join(dir, 'lvs.fifo')}
    lvs_notify_fifo_script ${paths.fifo}
}
vrrp_script chk {
    script "${paths.track} --quick"
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.1
    }
    track_script {
        chk
    }
    notify_master ${paths.master}
}
virtual_server 10.99.0.100 80 {
    protocol TCP
    quorum_up ${paths.quorum}
    real_server 10.99.1.1 8080 {
        notify_up ${paths.notify}
        MISC_CHECK {
            misc_path ${paths.misc}
        }
        TCP_CHECK {
        }
    }
}
`;
}

const allSafe = () => {
  const s = script('safe.sh');
  return { notify: s, misc: s, track: s, fifo: s, quorum: s, master: s };
};

describe('the default script user', () => {
  it('is script_user when set, else keepalived_script when it exists, else root', () => {
    const g = load('global_defs {\n script_user nobody nogroup\n}\n').globalDefs;
    expect(defaultScriptUser(g, files(true).passwd)).toEqual({ user: 'nobody', group: 'nogroup' });
    const none = load('global_defs {\n router_id a\n}\n').globalDefs;
    expect(defaultScriptUser(none, files(true).passwd)).toEqual({ user: 'keepalived_script', group: '' });
    expect(defaultScriptUser(none, files(false).passwd)).toEqual({ user: '', group: '' });
  });

  it('applies to every kind of script that names no user of its own, and not to one that does', () => {
    const paths = allSafe();
    const text = conf('    script_user nobody', paths).replace(`notify_up ${paths.notify}`, `notify_up "${paths.notify}" root`);
    const { config, diagnostics } = prepareScripts(load(text), files(false));
    expect(diagnostics).toEqual([]);
    const users = configScripts(config).map(({ script: s, place }) => `${place.keyword}=${s.user}`);
    expect(users.sort()).toEqual(['lvs_notify_fifo_script=nobody', 'misc_path=nobody', 'notify_master=nobody', 'notify_up=root', 'quorum_up=nobody', 'vrrp_script chk=nobody'].sort());
  });

  it('falls back to root with a warning when neither script_user nor keepalived_script exists', () => {
    const { config, diagnostics } = prepareScripts(load(conf('', allSafe())), files(false));
    expect(configScripts(config).every(({ script: s }) => s.user === '')).toBe(true);
    expect(diagnostics.map(formatDiagnostic)).toEqual([expect.stringMatching(/^test\.conf:\d+:\d+: warning: no `script_user` in global_defs and no user keepalived_script: scripts run as root$/)]);
  });

  it('with enable_script_security and no user to run as, disables every script that names none, as keepalived removes them', () => {
    const paths = allSafe();
    const text = conf('    enable_script_security', paths).replace(`quorum_up ${paths.quorum}`, `quorum_up "${paths.quorum}" root`);
    const { config, diagnostics } = prepareScripts(load(text), files(false));
    expect(configScripts(config).map(({ place }) => place.keyword)).toEqual(['quorum_up']);
    expect(config.virtualServers[0]!.realServers[0]!.checkers.map((c) => c.type)).toEqual(['TCP_CHECK']);
    expect(diagnostics).toHaveLength(5);
    expect(diagnostics.map((d) => d.message)).toContain('`misc_path`: no `script_user` in global_defs and no user keepalived_script to run it as (enable_script_security); script disabled');
    // keepalived_script existing is enough.
    expect(configScripts(prepareScripts(load(text), files(true)).config)).toHaveLength(6);
  });

  it('runs a script as that user: notify and vrrp scripts through the runner, MISC_CHECK through its probe', async () => {
    const out = join(dir, 'uid-out');
    mkdirSync(out, { mode: 0o777, recursive: true });
    chmodSync(out, 0o777);
    const id = script('id.sh', 0o755, `#!/bin/sh\nid -u > '${out}/'"$1"\nid -g >> '${out}/'"$1"\n`);
    const f = files(true);
    const { config } = prepareScripts(load(conf('', { ...allSafe(), master: `"${id} master"`, misc: `"${id} misc"` })), f);
    const master = config.vrrpInstances[0]!.notify.master!;
    expect(master.user).toBe('keepalived_script');
    const result = await new ProcessScriptRunner(f).run(master, [], 5000);
    expect(result).toMatchObject({ exitCode: 0 });
    expect(readFileSync(join(out, 'master'), 'utf8')).toBe(`${NOBODY}\n${NOBODY}\n`);
    // The probe reads the system's passwd: the same user under its system name.
    const misc = config.virtualServers[0]!.realServers[0]!.checkers.find((c): c is MiscCheck => c.type === 'MISC_CHECK')!;
    const probe = miscProbe({ ...misc, script: { ...misc.script, user: 'nobody', group: 'nogroup' } }, 1);
    expect((await probe.run(performance.now() + 5000)).ok).toBe(true);
    expect(readFileSync(join(out, 'misc'), 'utf8')).toBe(`${NOBODY}\n${NOBODY}\n`);
  });
});

describe('enable_script_security', () => {
  const root = undefined;

  it('accepts a root-owned script in root-owned directories, and a bare name found on PATH', () => {
    expect(checkScript({ argv: [script('ok.sh')], user: '', group: '' }, root, true, '/usr/bin:/bin')).toEqual({ ok: true });
    expect(checkScript({ argv: ['true'], user: '', group: '' }, root, true, '/usr/bin:/bin')).toEqual({ ok: true });
  });

  it('refuses a root script writable by everyone, by a non-root group, owned by another user, or in a writable directory', () => {
    const verdict = (path: string) => checkScript({ argv: [path], user: '', group: '' }, root, true, '');
    expect(verdict(script('world.sh', 0o757))).toMatchObject({ ok: false, disable: true, message: expect.stringContaining('world.sh is writable by everyone') });
    const group = script('group.sh', 0o775);
    chownSync(group, 0, NOBODY);
    expect(verdict(group)).toMatchObject({ ok: false, message: expect.stringContaining(`writable by group ${NOBODY}`) });
    const owned = script('owned.sh');
    chownSync(owned, NOBODY, 0);
    expect(verdict(owned)).toMatchObject({ ok: false, message: expect.stringContaining(`owned by uid ${NOBODY}`) });
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    writeFileSync(join(open, 'in.sh'), '#!/bin/sh\n', { mode: 0o755 });
    expect(verdict(join(open, 'in.sh'))).toMatchObject({ ok: false, message: expect.stringContaining(`${open} is writable by everyone`) });
    // The sticky bit makes a world-writable directory safe (as /tmp).
    chmodSync(open, 0o1777);
    expect(verdict(join(open, 'in.sh'))).toEqual({ ok: true });
  });

  it('does not check who can replace a script that runs as an unprivileged user, but that user must be able to run it', () => {
    const unsafe = script('unsafe-nobody.sh', 0o757);
    expect(checkScript({ argv: [unsafe], user: 'nobody', group: '' }, { uid: NOBODY, gid: NOBODY }, true, '')).toEqual({ ok: true });
    const rootOnly = script('root-only.sh', 0o700);
    expect(checkScript({ argv: [rootOnly], user: 'nobody', group: '' }, { uid: NOBODY, gid: NOBODY }, true, '')).toMatchObject({ ok: false, disable: true, message: expect.stringContaining('not executable by uid 65534') });
  });

  it('disables every kind of unsafe script at load with a diagnostic at its place; without it, only warns', () => {
    const bad = script('bad.sh', 0o757);
    const paths = { notify: bad, misc: bad, track: bad, fifo: bad, quorum: bad, master: bad };
    const text = conf('    enable_script_security\n    script_user root', paths);
    const { config, diagnostics } = prepareScripts(load(text), files(false));
    const vs = config.virtualServers[0]!;
    const rs = vs.realServers[0]!;
    expect(rs.notifyUp).toBeUndefined();
    expect(vs.quorumUp).toBeUndefined();
    expect(rs.checkers.map((c) => c.type)).toEqual(['TCP_CHECK']);
    expect(config.vrrpScripts).toEqual([]);
    expect(config.vrrpInstances[0]!.trackScripts).toEqual([]);
    expect(config.vrrpInstances[0]!.notify.master).toBeUndefined();
    expect(config.globalDefs.lvsNotifyFifo).toMatchObject({ path: join(dir, 'lvs.fifo'), script: undefined });
    const lines = diagnostics.map(formatDiagnostic);
    expect(lines).toHaveLength(6);
    for (const line of lines) expect(line).toMatch(/^test\.conf:\d+:\d+: warning: `[a-z_ ]+`: unsafe permissions for script `.*bad\.sh` run as root: .*bad\.sh is writable by everyone; script disabled \(enable_script_security\)$/);
    // Each diagnostic is at its script's own keyword.
    const lineOf = (needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    expect(lines).toContain(`test.conf:${lineOf('lvs_notify_fifo_script')}:5: warning: \`lvs_notify_fifo_script\`: unsafe permissions for script \`${bad}\` run as root: ${bad} is writable by everyone; script disabled (enable_script_security)`);
    expect(lines.some((l) => l.startsWith(`test.conf:${lineOf('notify_up')}:`) && l.includes('`notify_up`'))).toBe(true);

    const lax = prepareScripts(load(conf('    script_user root', paths)), files(false));
    expect(lax.config.virtualServers[0]!.realServers[0]!.notifyUp?.argv).toEqual([bad]);
    expect(lax.diagnostics).toHaveLength(6);
    expect(lax.diagnostics[0]!.message).toContain('with enable_script_security keepalived and ipvsd disable it');
  });

  it('disables a script that cannot be found, and one whose user does not exist, whatever the setting', () => {
    const paths = { ...allSafe(), notify: join(dir, 'missing.sh') };
    const text = conf('    script_user ghost', paths).replace(`quorum_up ${paths.quorum}`, `quorum_up "${paths.quorum}" root`);
    const { config, diagnostics } = prepareScripts(load(text), files(false));
    expect(config.virtualServers[0]!.realServers[0]!.notifyUp).toBeUndefined();
    expect(config.virtualServers[0]!.quorumUp?.user).toBe('root');
    expect(diagnostics.map((d) => d.message)).toContain('`notify_up`: no user "ghost"; script disabled');
    expect(diagnostics.map((d) => d.message)).toContain('`misc_path`: no user "ghost"; script disabled');
    const missing = prepareScripts(load(conf('    script_user root', paths)), files(false));
    expect(missing.config.virtualServers[0]!.realServers[0]!.notifyUp).toBeUndefined();
    expect(missing.diagnostics.map((d) => d.message)).toEqual([`\`notify_up\`: cannot access \`${paths.notify}\` (ENOENT); script disabled`]);
    const bare = prepareScripts(load(conf('    script_user root', { ...allSafe(), notify: 'no-such-ipvsd-script' })), files(false));
    expect(bare.diagnostics.map((d) => d.message)).toEqual(['`notify_up`: cannot find `no-such-ipvsd-script` on PATH; script disabled']);
  });
});
