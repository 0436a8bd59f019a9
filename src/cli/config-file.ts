// What ipvsd and ipvsctl alike need to read a configuration file: the id `@ID` lines match by
// default, and one sentence for a file that cannot be read.
import { hostname } from 'node:os';

/** The short host name, as keepalived's default config id. */
export const defaultConfigId = (): string => hostname().split('.')[0]!;

export function readError(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT' ? 'no such file' :
    code === 'EACCES' ? 'permission denied' :
    code === 'EISDIR' ? 'it is a directory' :
    (err as Error).message;
  return `cannot read ${path}: ${reason}`;
}
