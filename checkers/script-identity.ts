// Who a script runs as: user and group names (or numbers) to uid/gid, from /etc/passwd and
// /etc/group, read once when a probe is made.
import { readFileSync } from 'node:fs';

export interface Identity {
  uid: number;
  gid: number;
}

export class IdentityError extends Error {
  readonly code = 'ERR_SCRIPT_IDENTITY';
  override readonly name = 'IdentityError';
}

function lookup(file: string, name: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name) return fields;
  }
  return undefined;
}

const numeric = (text: string): number | undefined => (/^\d+$/.test(text) ? Number(text) : undefined);

/** undefined when `user` is empty (the script runs as this process does). */
export function resolveIdentity(user: string, group: string, files = { passwd: '/etc/passwd', group: '/etc/group' }): Identity | undefined {
  if (user === '') return undefined;
  const entry = lookup(files.passwd, user);
  const uid = entry !== undefined ? Number(entry[2]) : numeric(user);
  if (uid === undefined) throw new IdentityError(`no user "${user}"`);
  let gid: number | undefined;
  if (group !== '') {
    const groupEntry = lookup(files.group, group);
    gid = groupEntry !== undefined ? Number(groupEntry[2]) : numeric(group);
    if (gid === undefined) throw new IdentityError(`no group "${group}"`);
  } else {
    gid = entry !== undefined ? Number(entry[3]) : uid;
  }
  return { uid, gid };
}
