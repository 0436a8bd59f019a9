// The IPVS services ipvsd owns, kept in a small JSON file under /run so that a restart (even after
// kill -9) still removes a service the new configuration dropped, and never one ipvsd did not add.
// /run has the kernel table's lifetime: after a reboot both are empty.
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

/** Next to the control socket, whose path is already unique per running ipvsd: `/run/ipvsd/ipvsd.owned.json`. */
export function ownershipPathFor(socketPath: string): string {
  const name = basename(socketPath, extname(socketPath));
  return join(dirname(socketPath), `${name}.owned.json`);
}

export class OwnershipFileError extends Error {
  readonly code = 'EOWNERSHIPFILE';
}

export interface OwnershipRead {
  services: Set<string>;
  /** Why nothing was taken from the file (missing, unreadable, not ours); undefined when it was read. */
  problem?: string;
}

interface FileShape {
  version: 1;
  services: string[];
}

function parse(text: string): string[] {
  const data = JSON.parse(text) as Partial<FileShape> | null;
  if (data === null || typeof data !== 'object' || data.version !== 1 || !Array.isArray(data.services)) {
    throw new OwnershipFileError('not an ipvsd ownership file (version 1 with a services list)');
  }
  const services: unknown[] = data.services;
  if (!services.every((s) => typeof s === 'string')) throw new OwnershipFileError('the services list holds something other than service keys');
  return services as string[];
}

export class OwnershipFile {
  readonly path: string;
  /** What the file holds now (as written or read), so an unchanged set is not written again. */
  #saved = '';

  constructor(path: string) {
    this.path = path;
  }

  /** A missing or corrupt file means nothing is owned; that is reported, never thrown. */
  read(): OwnershipRead {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { services: new Set(), problem: code === 'ENOENT' ? 'no ownership file' : `cannot read it: ${(err as Error).message}` };
    }
    try {
      const services = parse(text);
      this.#saved = JSON.stringify([...services].sort());
      return { services: new Set(services) };
    } catch (err) {
      return { services: new Set(), problem: `ignored, ${err instanceof SyntaxError ? `not JSON: ${err.message}` : (err as Error).message}` };
    }
  }

  /**
   * Writes the set when it differs from the file (temp file + rename, so a crash leaves the old
   * file or the new one, never half of one); an empty set removes the file. True when it wrote.
   * Throws OwnershipFileError with the reason.
   */
  save(services: Iterable<string>): boolean {
    const sorted = [...services].sort();
    const text = JSON.stringify(sorted);
    if (text === this.#saved) return false;
    try {
      if (sorted.length === 0) {
        unlinkSync(this.path);
      } else {
        mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
        const temp = `${this.path}.${process.pid}.tmp`;
        const body: FileShape = { version: 1, services: sorted };
        writeFileSync(temp, `${JSON.stringify(body)}\n`, { mode: 0o600 });
        renameSync(temp, this.path);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || sorted.length > 0) {
        throw new OwnershipFileError(`cannot write ${this.path}: ${(err as Error).message}`);
      }
    }
    this.#saved = text;
    return true;
  }
}
