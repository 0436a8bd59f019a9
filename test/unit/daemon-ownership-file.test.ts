// The ownership file: written whole (temp + rename) only when the set changes, removed when empty,
// and read back; a missing, corrupt or foreign file means nothing is owned, never an exception.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OwnershipFile, OwnershipFileError, ownershipPathFor } from '../../src/daemon/ownership-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-owned-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('ownershipPathFor', () => {
  it('puts the file next to the control socket, named after it', () => {
    expect(ownershipPathFor('/run/ipvsd/ipvsd.sock')).toBe('/run/ipvsd/ipvsd.owned.json');
    expect(ownershipPathFor('/tmp/x/lb2.sock')).toBe('/tmp/x/lb2.owned.json');
    expect(ownershipPathFor('/tmp/x/sock')).toBe('/tmp/x/sock.owned.json');
  });
});

describe('OwnershipFile', () => {
  it('round-trips a set through a file only ipvsd can read, creating the directory', () => {
    const path = join(dir, 'run', 'ipvsd.owned.json');
    const file = new OwnershipFile(path);
    expect(file.save(['tcp:10.0.0.2:80', 'tcp:10.0.0.1:80', 'fwmark:inet:5'])).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, services: ['fwmark:inet:5', 'tcp:10.0.0.1:80', 'tcp:10.0.0.2:80'] });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'run'))).toEqual(['ipvsd.owned.json']);
    const again = new OwnershipFile(path).read();
    expect(again.problem).toBeUndefined();
    expect([...again.services].sort()).toEqual(['fwmark:inet:5', 'tcp:10.0.0.1:80', 'tcp:10.0.0.2:80']);
  });

  it('does not write an unchanged set again, whatever its order, nor the set it just read', () => {
    const path = join(dir, 'owned.json');
    const file = new OwnershipFile(path);
    expect(file.save(['b', 'a'])).toBe(true);
    expect(file.save(new Set(['a', 'b']))).toBe(false);
    const reader = new OwnershipFile(path);
    reader.read();
    expect(reader.save(['a', 'b'])).toBe(false);
    expect(reader.save(['a'])).toBe(true);
  });

  it('removes the file when nothing is owned any more, and an absent file is no error', () => {
    const path = join(dir, 'owned.json');
    const file = new OwnershipFile(path);
    file.save(['a']);
    expect(file.save([])).toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(new OwnershipFile(join(dir, 'never.json')).save([])).toBe(true);
  });

  it('reads a missing file as nothing owned', () => {
    const r = new OwnershipFile(join(dir, 'missing.json')).read();
    expect(r).toEqual({ services: new Set(), problem: 'no ownership file' });
  });

  it.each([
    ['truncated JSON', '{"version":1,"serv', /not JSON/],
    ['another shape', '["tcp:10.0.0.1:80"]', /not an ipvsd ownership file/],
    ['another version', '{"version":2,"services":[]}', /not an ipvsd ownership file/],
    ['a non-string entry', '{"version":1,"services":["a",7]}', /something other than service keys/],
    ['null', 'null', /not an ipvsd ownership file/],
  ])('reads %s as nothing owned, with the reason', (_name, text, reason) => {
    const path = join(dir, 'owned.json');
    writeFileSync(path, text);
    const r = new OwnershipFile(path).read();
    expect(r.services.size).toBe(0);
    expect(r.problem).toMatch(reason);
  });

  it('a write it cannot make throws an OwnershipFileError naming the path', () => {
    writeFileSync(join(dir, 'file'), '');
    const file = new OwnershipFile(join(dir, 'file', 'owned.json'));
    expect(() => file.save(['a'])).toThrow(OwnershipFileError);
    expect(() => file.save(['a'])).toThrow(`cannot write ${join(dir, 'file', 'owned.json')}`);
  });
});
