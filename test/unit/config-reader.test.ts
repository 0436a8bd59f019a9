import { describe, expect, it } from 'vitest';
import { readConfig, readConfigText } from '../../src/config/reader.js';
import { memoryFiles, messages, outline, texts } from './config-reader-helpers.js';

const read = (text: string) => readConfigText(text, 'k.conf', { configId: 'lb1', env: {}, random: () => 0 });

describe('blocks', () => {
  it('nests statements by braces and records where each block ends', () => {
    const r = read('global_defs {\n  router_id LVS_1\n}\nvirtual_server 10.0.0.1 80 {\n  lb_algo rr\n  real_server 10.0.0.2 80 {\n    weight 2\n  }\n}\n');
    expect(r.diagnostics).toEqual([]);
    expect(outline(r.statements)).toEqual([
      'global_defs@1:1',
      ['router_id@2:3 LVS_1@2:13'],
      'virtual_server@4:1 10.0.0.1@4:16 80@4:25',
      ['lb_algo@5:3 rr@5:11', 'real_server@6:3 10.0.0.2@6:15 80@6:24', ['weight@7:5 2@7:12']],
    ]);
    expect(r.statements[0]!.end).toEqual({ file: 'k.conf', line: 3, column: 1 });
    expect(r.statements[1]!.children![1]!.end).toEqual({ file: 'k.conf', line: 8, column: 3 });
  });

  it('splits a line at every brace, so a whole block fits on one line', () => {
    const r = read('TCP_CHECK { connect_port 80 } FILE_CHECK { track_file X }\n');
    expect(outline(r.statements)).toEqual([
      'TCP_CHECK@1:1',
      ['connect_port@1:13 80@1:26'],
      'FILE_CHECK@1:31',
      ['track_file@1:44 X@1:55'],
    ]);
    expect(r.statements[0]!.end).toEqual({ file: 'k.conf', line: 1, column: 29 });
  });

  it('splits a brace glued to a word', () => {
    expect(texts(read('real_server 1.2.3.4 80{weight 1}').statements)).toEqual(['real_server 1.2.3.4 80', '  weight 1']);
  });

  it('opens the block of the previous keyword with a { alone on a following line', () => {
    const r = read('virtual_server 10.0.0.1 80\n! comment\n\n{\n  lb_algo rr\n}\n');
    expect(r.diagnostics).toEqual([]);
    expect(outline(r.statements)).toEqual(['virtual_server@1:1 10.0.0.1@1:16 80@1:25', ['lb_algo@5:3 rr@5:11']]);
  });

  it('reports a { with no keyword before it and keeps its contents in the enclosing block', () => {
    const r = read('a {\n  {\n    b 1\n  }\n}\n');
    expect(messages(r.diagnostics)).toEqual(["k.conf:2:3: error: '{' without a keyword before it"]);
    expect(texts(r.statements)).toEqual(['a', '  b 1']);
    expect(r.statements[0]!.end).toEqual({ file: 'k.conf', line: 5, column: 1 });
  });

  it('reports a block never closed at its opening brace', () => {
    const r = read('global_defs {\n  router_id x\nvirtual_server 1.1.1.1 80 {\n  lb_algo rr\n');
    expect(messages(r.diagnostics)).toEqual([
      "k.conf:3:27: error: block 'virtual_server' opened here is never closed",
      "k.conf:1:13: error: block 'global_defs' opened here is never closed",
    ]);
    expect(texts(r.statements)).toEqual(['global_defs', '  router_id x', '  virtual_server 1.1.1.1 80', '    lb_algo rr']);
  });

  it('reports an extra }', () => {
    const r = read('a {\n}\n  }\nb 2\n');
    expect(messages(r.diagnostics)).toEqual(["k.conf:3:3: error: extra '}' with no block to close"]);
    expect(texts(r.statements)).toEqual(['a', 'b 2']);
  });

  it('bounds nesting depth', () => {
    const r = read(`${'a {\n'.repeat(70)}${'}\n'.repeat(70)}`);
    expect(messages(r.diagnostics)).toEqual(
      Array.from({ length: 6 }, (_, i) => `k.conf:${65 + i}:3: error: blocks nested deeper than 64; this block is not nested further`),
    );
    let depth = 0;
    for (let s = r.statements; s.length > 0; s = s[0]!.children ?? []) depth++;
    expect(depth).toBe(65);
  });
});

describe('comments and quotes', () => {
  it('removes ! and # comments outside quotes, anywhere on the line', () => {
    const r = read('# head\n! bang\nrouter_id LVS_1 # tail\nnotify "/bin/echo #1 !2" ! tail\n');
    expect(outline(r.statements)).toEqual(['router_id@3:1 LVS_1@3:11', 'notify@4:1 "/bin/echo #1 !2"@4:8']);
    expect(r.statements[1]!.rest).toBe('"/bin/echo #1 !2"');
  });

  it('turns \\# and \\! into literal characters and keeps later columns right', () => {
    const r = read('password a\\#b\\!c  next\n');
    expect(outline(r.statements)).toEqual(['password@1:1 a#b!c@1:10 next@1:19']);
  });

  it('keeps braces and blanks inside quotes', () => {
    const r = read('misc_path "/bin/check { x }" {\n}\n');
    expect(outline(r.statements)).toEqual(['misc_path@1:1 "/bin/check { x }"@1:11', []]);
  });

  it('reports an unterminated quote and takes the rest of the line as one string', () => {
    const r = read('notify "/bin/echo hi\nx 1\n');
    expect(messages(r.diagnostics)).toEqual(['k.conf:1:8: error: unterminated quote: the rest of the line is taken as one string']);
    expect(outline(r.statements)).toEqual(['notify@1:1 "/bin/echo hi"@1:8', 'x@2:1 1@2:3']);
  });

  it('gives rest as the text after the keyword, without the comment', () => {
    const r = read("notify_master /usr/bin/x 'a b' \"c d\"   # why\n");
    expect(r.statements[0]!.rest).toBe("/usr/bin/x 'a b' \"c d\"");
  });

  it('counts columns in characters of the original line, tabs as one', () => {
    const r = read('\t\tweight\t3\r\n');
    expect(outline(r.statements)).toEqual(['weight@1:3 3@1:10']);
  });
});

describe('continuation', () => {
  it('joins a line ending with \\ to the next one', () => {
    const r = read('real_server 10.0.0.2 \\\n   80 \\\n   {\n weight 1\n}\n');
    expect(r.diagnostics).toEqual([]);
    expect(outline(r.statements)).toEqual(['real_server@1:1 10.0.0.2@1:13 80@2:4', ['weight@4:2 1@4:9']]);
  });

  it('ends a continuation at an empty line', () => {
    expect(texts(read('a 1 \\\n\nb 2\n').statements)).toEqual(['a 1', 'b 2']);
  });
});

describe('robustness', () => {
  it('ignores an over-long line with a diagnostic', () => {
    const r = read(`a 1\nb ${'x'.repeat(9000)}\nc 3\n`);
    expect(messages(r.diagnostics)).toEqual(['k.conf:2:1: error: line is longer than 8192 characters; ignored']);
    expect(texts(r.statements)).toEqual(['a 1', 'c 3']);
  });

  it('reports binary data at its column and gives up on a binary file', () => {
    const r = read('a 1\nb \u0000x\nc 3\n');
    expect(messages(r.diagnostics)).toEqual(['k.conf:2:3: error: binary data (byte 0x00) in a text file; line ignored']);
    expect(texts(r.statements)).toEqual(['a 1', 'c 3']);
    const garbage = read(Array.from({ length: 50 }, (_, i) => `\u0001\u0002 ${i}`).join('\n'));
    expect(garbage.diagnostics).toHaveLength(6);
    expect(garbage.diagnostics[5]!.message).toBe('this does not look like a text file; the rest of it is ignored');
  });

  it('reports a file it cannot read instead of throwing', () => {
    const r = readConfig('/nonexistent/keepalived.conf', { configId: 'x', readFile: memoryFiles({}) });
    expect(r.statements).toEqual([]);
    expect(r.diagnostics[0]!.pos).toEqual({ file: '/nonexistent/keepalived.conf', line: 1, column: 1 });
    expect(r.diagnostics[0]!.message).toMatch(/^cannot read the configuration file: ENOENT/);
  });

  it('ignores a byte order mark', () => {
    expect(outline(read('\uFEFFglobal_defs {\n}\n').statements)).toEqual(['global_defs@1:1', []]);
  });

  it('lists the files read', () => {
    const r = readConfig('/etc/k.conf', { configId: 'x', readFile: memoryFiles({ '/etc/k.conf': 'a 1\n' }) });
    expect(r.files).toEqual(['/etc/k.conf']);
  });
});
