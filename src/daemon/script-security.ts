// Who runs each script, and whether it may run, as keepalived decides at load: a script without
// its own user runs as the global script_user, else as user keepalived_script when it exists, else
// as root with a warning (with enable_script_security it is disabled instead). A script run as
// root must not be replaceable by anyone else: its file and every directory above it owned by
// root and not writable by a non-root group or by others (a directory with the sticky bit
// excepted). With enable_script_security such a script is disabled; without, it only gets a
// warning, as in keepalived.
import { accessSync, constants, lstatSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { delimiter, join, normalize, resolve } from 'node:path';
import { resolveIdentity, type Identity } from '../../checkers/script-identity.js';
import type { Diagnostic } from '../config/ast.js';
import { loadConfig, type LoadResult } from '../config/load.js';
import type { ReadOptions } from '../config/reader.js';
import type { GlobalDefs, KeepalivedConfig, Script } from '../config/model.js';
import { configScripts, mapScripts } from './config-scripts.js';

/** keepalived's default script user when global_defs names none. */
export const DEFAULT_SCRIPT_USER = 'keepalived_script';

export interface SystemFiles {
  passwd: string;
  group: string;
  /** Where a bare script name is searched. */
  path: string;
}

const systemFiles = (): SystemFiles => ({ passwd: '/etc/passwd', group: '/etc/group', path: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' });

/** The user and group a script without its own runs as; empty user = as ipvsd itself (root). */
export function defaultScriptUser(globals: GlobalDefs, passwd: string): { user: string; group: string } {
  if (globals.scriptUser) return globals.scriptUser;
  let text = '';
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    // no passwd file: nobody but root
  }
  return text.split('\n').some((line) => line.startsWith(`${DEFAULT_SCRIPT_USER}:`)) ? { user: DEFAULT_SCRIPT_USER, group: '' } : { user: '', group: '' };
}

/** Why a file or directory on a root script's path is unsafe, or undefined. */
function unsafeEntry(st: Stats): string | undefined {
  if (st.uid !== 0) return `owned by uid ${st.uid}, not root`;
  if (st.isSymbolicLink()) return undefined; // its mode means nothing; where it points is checked too
  const sticky = st.isDirectory() && (st.mode & 0o1000) !== 0;
  if (sticky) return undefined;
  if (st.gid !== 0 && (st.mode & 0o020) !== 0) return `writable by group ${st.gid}`;
  if ((st.mode & 0o002) !== 0) return 'writable by everyone';
  return undefined;
}

/** The first unsafe entry of `file`'s path, from / down to the file itself. */
function unsafePath(file: string): string | undefined {
  const parts = normalize(file).split('/').filter((p) => p !== '');
  for (let i = 0; i <= parts.length; i++) {
    const prefix = `/${parts.slice(0, i).join('/')}`;
    const why = unsafeEntry(lstatSync(prefix));
    if (why) return `${prefix} is ${why}`;
  }
  return undefined;
}

/** A bare name found on PATH, as execvp would find it; undefined when nowhere. */
function onPath(name: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      if (statSync(candidate).isFile()) {
        accessSync(candidate, constants.X_OK);
        return candidate;
      }
    } catch {
      // not here
    }
  }
  return undefined;
}

export type ScriptVerdict = { ok: true } | { ok: false; disable: boolean; message: string };

/**
 * keepalived's check_script_secure for one script run as `identity` (undefined: as root). Only a
 * script run by root (uid or gid 0) is checked for who can replace it; a script that cannot be
 * found or executed is disabled whatever enable_script_security says.
 */
export function checkScript(script: Script, identity: Identity | undefined, security: boolean, path: string): ScriptVerdict {
  const name = script.argv[0]!;
  const file = name.includes('/') ? resolve(name) : onPath(name, path);
  if (file === undefined) return { ok: false, disable: true, message: `cannot find \`${name}\` on PATH; script disabled` };
  let real: string;
  try {
    real = realpathSync(file);
  } catch (err) {
    return { ok: false, disable: true, message: `cannot access \`${name}\` (${(err as NodeJS.ErrnoException).code}); script disabled` };
  }
  const st = statSync(real);
  if (!st.isFile()) return { ok: false, disable: true, message: `\`${name}\` is not a file; script disabled` };
  const uid = identity?.uid ?? 0;
  const gid = identity?.gid ?? 0;
  const exec = st.uid === uid ? st.mode & 0o100 : st.gid === gid ? st.mode & 0o010 : st.mode & 0o001;
  if (uid !== 0 && !exec) return { ok: false, disable: true, message: `\`${name}\` is not executable by uid ${uid}; script disabled` };
  if (uid !== 0 && gid !== 0) return { ok: true };
  const why = unsafePath(file) ?? (real !== file ? unsafePath(real) : undefined);
  if (!why) return { ok: true };
  return security
    ? { ok: false, disable: true, message: `unsafe permissions for script \`${name}\` run as root: ${why}; script disabled (enable_script_security)` }
    : { ok: false, disable: false, message: `unsafe permissions for script \`${name}\` run as root: ${why}; with enable_script_security keepalived and ipvsd disable it` };
}

export interface PreparedScripts {
  config: KeepalivedConfig;
  /** One per disabled or unsafe script, at its keyword (or block), plus the root fallback warning. */
  diagnostics: Diagnostic[];
}

/**
 * The configuration as ipvsd runs it: every script's user filled in with the default, scripts
 * that may not run disabled. Reads the user database and the script files, so it runs at each
 * load (start and reload), never per execution.
 */
export function prepareScripts(config: KeepalivedConfig, files: SystemFiles = systemFiles()): PreparedScripts {
  const diagnostics: Diagnostic[] = [];
  const scripts = configScripts(config);
  if (scripts.length === 0) return { config, diagnostics };
  const globals = config.globalDefs;
  const fallback = defaultScriptUser(globals, files.passwd);
  // keepalived: with enable_script_security, a script with no user to run as is removed.
  const noUser = fallback.user === '' && globals.enableScriptSecurity;
  if (fallback.user === '' && !noUser) {
    diagnostics.push({
      severity: 'warning',
      pos: scripts[0]!.place.pos,
      message: `no \`script_user\` in global_defs and no user ${DEFAULT_SCRIPT_USER}: scripts run as root`,
    });
  }
  const prepared = mapScripts(config, (script, place) => {
    if (noUser && script.user === '') {
      diagnostics.push({
        severity: 'warning',
        pos: place.pos,
        message: `\`${place.keyword}\`: no \`script_user\` in global_defs and no user ${DEFAULT_SCRIPT_USER} to run it as (enable_script_security); script disabled`,
      });
      return undefined;
    }
    const withUser: Script = script.user === '' ? { ...script, user: fallback.user, group: script.group || fallback.group } : script;
    const at = { pos: place.pos };
    let identity: Identity | undefined;
    try {
      identity = resolveIdentity(withUser.user, withUser.group, files);
    } catch (err) {
      diagnostics.push({ severity: 'warning', ...at, message: `\`${place.keyword}\`: ${(err as Error).message}; script disabled` });
      return undefined;
    }
    const verdict = checkScript(withUser, identity, globals.enableScriptSecurity, files.path);
    if (verdict.ok) return withUser;
    diagnostics.push({ severity: 'warning', ...at, message: `\`${place.keyword}\`: ${verdict.message}` });
    return verdict.disable ? undefined : withUser;
  });
  return { config: prepared, diagnostics };
}

/**
 * The file as ipvsd runs it, for the daemon and for `ipvsd -t` / `ipvsctl check-config` alike:
 * scripts get their user (script_user) and unsafe ones are disabled, reported at their line.
 */
export function loadRunnableConfig(path: string, options: ReadOptions): LoadResult {
  const { config, diagnostics } = loadConfig(path, options);
  if (!config) return { config, diagnostics };
  const scripts = prepareScripts(config);
  return { config: scripts.config, diagnostics: [...diagnostics, ...scripts.diagnostics] };
}
