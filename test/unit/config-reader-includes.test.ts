import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expandBraces, glob, segmentMatcher } from '../../src/config/glob.js';
import { readConfig, readConfigText } from '../../src/config/reader.js';
import { memoryFiles, messages, outline, texts } from './config-reader-helpers.js';

const fixtures = fileURLToPath(new URL('../fixtures/reader/', import.meta.url));
const inc = join(fixtures, 'includes');

describe('glob', () => {
  it('expands csh braces, nested, with escapes and literal {}', () => {
    expect(expandBraces('a{b,c{d,e}}f')).toEqual(['abf', 'acdf', 'acef']);
    expect(expandBraces('{foo/{,cat,dog},bar}')).toEqual(['foo/', 'foo/cat', 'foo/dog', 'bar']);
    expect(expandBraces('x{}y')).toEqual(['x{}y']);
    expect(expandBraces('x\\{a,b}')).toEqual(['x\\{a,b}']);
    expect(expandBraces('open{a,b')).toEqual(['open{a,b']);
  });

  it('matches *, ?, [...] and [!...] but not a leading dot', () => {
    expect(segmentMatcher('*.conf').test('a.conf')).toBe(true);
    expect(segmentMatcher('*.conf').test('.a.conf')).toBe(false);
    expect(segmentMatcher('?0-*').test('10-router.conf')).toBe(true);
    expect(segmentMatcher('[12]0-*').test('20-x')).toBe(true);
    expect(segmentMatcher('[!12]0-*').test('20-x')).toBe(false);
    expect(segmentMatcher('[a-c]x').test('bx')).toBe(true);
    expect(segmentMatcher('[]]').test(']')).toBe(true);
    expect(segmentMatcher('[z-a]').test('q')).toBe(false);
    expect(segmentMatcher('a\\*').test('a*')).toBe(true);
    expect(segmentMatcher('a\\*').test('ab')).toBe(false);
  });

  it('lists matches sorted, marking directories, and notices a missing directory', () => {
    expect(glob(join(inc, 'conf.d/*.conf'))).toEqual({
      paths: [join(inc, 'conf.d/10-router.conf'), join(inc, 'conf.d/20-scripts.conf'), `${join(inc, 'conf.d/dir.conf')}/`],
      missing: false,
    });
    expect(glob(join(inc, '*/w*.conf')).paths).toEqual([join(inc, 'vs/web.conf')]);
    expect(glob(join(inc, 'nope/*.conf'))).toEqual({ paths: [], missing: true });
  });
});

describe('include', () => {
  it('reads globs and brace expansions relative to the including file, with positions in each file', () => {
    const r = readConfig(join(inc, 'main.conf'), { configId: 'x' });
    expect(outline(r.statements)).toEqual([
      'global_defs@2:1',
      ['router_id@1:1 LB_A@1:11', 'enable_script_security@2:1'],
      'virtual_server@1:1 10.0.0.1@1:16 80@1:25',
      ['real_server@1:3 192.168.0.1@1:15 80@1:27', ['weight@2:5 1@2:12']],
      'virtual_server@1:1 10.0.0.1@1:16 5432@1:25',
      ['real_server@1:3 192.168.0.1@1:15 80@1:27', ['weight@2:5 1@2:12']],
    ]);
    expect(r.statements[1]!.keyword.pos.file).toBe(join(inc, 'vs/web.conf'));
    expect(r.statements[1]!.children![0]!.keyword.pos.file).toBe(join(inc, 'common/rs.conf'));
    expect(r.statements[1]!.end).toEqual({ file: join(inc, 'vs/web.conf'), line: 3, column: 1 });
    expect(r.files).toEqual([
      join(inc, 'main.conf'),
      join(inc, 'conf.d/10-router.conf'),
      join(inc, 'conf.d/20-scripts.conf'),
      join(inc, 'vs/web.conf'),
      join(inc, 'common/rs.conf'),
      join(inc, 'vs/db.conf'),
      join(inc, 'common/rs.conf'),
    ]);
    // A plain include is silent when nothing matches; a matched directory is only worth a warning.
    expect(messages(r.diagnostics)).toEqual([`${join(inc, 'main.conf')}:3:11: warning: include: '${join(inc, 'conf.d/dir.conf')}' is a directory, skipped`]);
  });

  it('makes the strict variants report what plain include ignores', () => {
    const text = [
      'includer conf.d/*.conf',
      'includem missing.conf',
      'includem nothing-*.conf',
      'includew nothing-*.conf',
      'includeb vs/{web,nope}.conf',
      'includea missing/*.conf',
      'include missing.conf',
    ].join('\n');
    const r = readConfigText(text, join(inc, 'strict.conf'), { configId: 'x' });
    const file = join(inc, 'strict.conf');
    expect(messages(r.diagnostics)).toEqual([
      `${file}:1:10: error: includer: '${join(inc, 'conf.d/dir.conf')}' is a directory, skipped`,
      `${file}:2:10: error: includem: no file matches 'missing.conf'`,
      `${file}:4:10: error: includew: no file matches 'nothing-*.conf'`,
      `${file}:5:10: error: includeb: some files of 'vs/{web,nope}.conf' are missing`,
      `${file}:6:10: error: includea: no file matches 'missing/*.conf'`,
    ]);
    expect(texts(r.statements).filter((t) => !t.startsWith(' '))).toEqual(['router_id LB_A', 'enable_script_security', 'virtual_server 10.0.0.1 80']);
  });

  it('applies include_check to later includes until the including file ends', () => {
    const files = memoryFiles({
      '/k/main.conf': 'include sub.conf\ninclude gone1.conf\n',
      '/k/sub.conf': 'global_defs {\n  include_check match\n}\ninclude gone2.conf\n',
    });
    const r = readConfig('/k/main.conf', { configId: 'x', readFile: files });
    expect(messages(r.diagnostics)).toEqual(["/k/sub.conf:4:9: error: include: no file matches 'gone2.conf'"]);
    const all = readConfigText('include_check\ninclude gone.conf\ninclude_check +bogus\n', '/k/m.conf', { configId: 'x', readFile: files });
    expect(messages(all.diagnostics)).toEqual([
      "/k/m.conf:2:9: error: include: no file matches 'gone.conf'",
      "/k/m.conf:3:15: warning: include_check: unknown check 'bogus' ignored",
    ]);
  });

  it('detects an include loop instead of recursing', () => {
    const r = readConfig(join(fixtures, 'loop/a.conf'), { configId: 'x' });
    expect(texts(r.statements)).toEqual(['a_top 1', 'b_inner 1']);
    expect(messages(r.diagnostics)).toEqual([
      `${join(fixtures, 'loop/b.conf')}:2:9: error: include loop: '${join(fixtures, 'loop/a.conf')}' is already being read; not included again`,
    ]);
  });

  it('detects a loop through differently spelled paths, and gives _PWD as an absolute directory', () => {
    const files = memoryFiles({ './rel/a.conf': 'x ${_PWD}\ninclude a.conf\n', 'rel/a.conf': 'include a.conf\n' });
    const r = readConfig('./rel/a.conf', { configId: 'x', readFile: files });
    expect(texts(r.statements)).toEqual([`x ${join(process.cwd(), 'rel')}`]);
    expect(messages(r.diagnostics)).toEqual(["./rel/a.conf:2:9: error: include loop: 'rel/a.conf' is already being read; not included again"]);
  });

  it('bounds include depth', () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`/d/f${i}.conf`] = `level ${i}\ninclude f${i + 1}.conf\n`;
    const r = readConfig('/d/f0.conf', { configId: 'x', readFile: memoryFiles(files) });
    expect(r.statements).toHaveLength(33);
    expect(messages(r.diagnostics)).toEqual(["/d/f32.conf:2:9: error: includes nested deeper than 32; '/d/f33.conf' not read"]);
  });

  it('includes the same file twice when it is not a loop, and lets blocks span files', () => {
    const files = memoryFiles({ '/k/m.conf': 'a {\ninclude part.conf\nb {\ninclude part.conf\n', '/k/part.conf': 'x 1\n}\n' });
    const r = readConfig('/k/m.conf', { configId: 'x', readFile: files });
    expect(r.diagnostics).toEqual([]);
    expect(outline(r.statements)).toEqual(['a@1:1', ['x@1:1 1@1:3'], 'b@3:1', ['x@1:1 1@1:3']]);
    expect(r.statements[0]!.end).toEqual({ file: '/k/part.conf', line: 2, column: 1 });
  });

  it('accepts a quoted file name and points positions in the included file at that file', () => {
    const files = memoryFiles({ '/k/m.conf': 'include "sub dir/x.conf"\n', '/k/sub dir/x.conf': '\n  $P=9\n  y ${_PWD} $P\n' });
    const r = readConfig('/k/m.conf', { configId: 'x', readFile: files });
    expect(r.diagnostics).toEqual([]);
    expect(outline(r.statements)).toEqual(['y@3:3 /k/sub@3:5 dir@3:5 9@2:6']);
    expect(r.statements[0]!.args[2]!.pos.file).toBe('/k/sub dir/x.conf');
  });

  it('takes include after @ID and $ processing, and reports one without a file name', () => {
    const files = memoryFiles({ '/k/m.conf': '$F=part\n@x include ${F}.conf\n@y include other.conf\ninclude\n', '/k/part.conf': 'p 1\n' });
    const r = readConfig('/k/m.conf', { configId: 'x', readFile: files });
    expect(texts(r.statements)).toEqual(['p 1']);
    expect(messages(r.diagnostics)).toEqual(['/k/m.conf:4:1: error: include needs a file name']);
  });
});
