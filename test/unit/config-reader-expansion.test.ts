import { describe, expect, it } from 'vitest';
import { readConfigText, type ReadOptions } from '../../src/config/reader.js';
import { messages, outline, texts } from './config-reader-helpers.js';

const options: ReadOptions = { configId: 'lb1', env: { SITE: 'paris' }, instance: 'inst0', random: () => 0.5 };
const read = (text: string, extra: Partial<ReadOptions> = {}) => readConfigText(text, '/etc/keepalived/k.conf', { ...options, ...extra });

describe('@ID conditional lines', () => {
  it('keeps @ID lines for that config id and @^ID lines for every other', () => {
    const text = '@lb1 priority 150\n@lb2 priority 100\n@^lb1 state BACKUP\n@^lb2 state MASTER\n';
    expect(outline(read(text).statements)).toEqual(['priority@1:6 150@1:15', 'state@4:7 MASTER@4:13']);
    expect(texts(read(text, { configId: 'lb2' }).statements)).toEqual(['priority 100', 'state BACKUP']);
  });

  it('drops a line that is only @ID', () => {
    expect(read('@lb1\na 1\n').statements.map((s) => s.keyword.text)).toEqual(['a']);
  });

  it('applies to a definition, and to a residue after a brace', () => {
    const r = read('@lb1 $PRIO=240\n@lb2 $PRIO=200\nvrrp_instance VI { @lb1 nopreempt\n priority $PRIO }\n');
    expect(outline(r.statements)).toEqual(['vrrp_instance@3:1 VI@3:15', ['nopreempt@3:25', 'priority@4:2 240@1:12']]);
  });
});

describe('$ definitions', () => {
  it('substitutes $NAME before a blank or end, and ${NAME} anywhere, at use time', () => {
    const r = read('$BASE=10.2.${SUB}\n$SUB=0\nip ${BASE}.100/32 $SUB\n$SUB=10\nip ${BASE}.100/32\n');
    expect(texts(r.statements)).toEqual(['ip 10.2.0.100/32 0', 'ip 10.2.10.100/32']);
    expect(outline(r.statements)[0]).toBe('ip@3:1 10.2.0.100/32@1:7 0@2:6');
  });

  it('keeps the position of literal text that follows a substitution', () => {
    const r = read('$P=8080\nreal_server 10.0.0.1 $P weight\n');
    expect(outline(r.statements)).toEqual(['real_server@2:1 10.0.0.1@2:13 8080@1:4 weight@2:25']);
    expect(r.statements[0]!.rest).toBe('10.0.0.1 8080 weight');
  });

  it('leaves undefined names and $NAME glued to other text as written', () => {
    expect(texts(read('$A=1\nx $UNDEF "${UNDEF}" $Ax ${A}x $A,\n').statements)).toEqual(['x $UNDEF ${UNDEF} $Ax 1x 1,']);
  });

  it('splits an undefined ${NAME} outside quotes at its braces, as keepalived does', () => {
    expect(texts(read('x a${UNDEF}b\n').statements)).toEqual(['x a$', '  UNDEF', 'b']);
  });

  it('needs no blank before = (a blank makes it an ordinary line)', () => {
    expect(texts(read('$A =1\n').statements)).toEqual(['$A =1']);
  });

  it('expands recursive definitions and stops a self-reference with one diagnostic', () => {
    const r = read('$A=${B}-${B}\n$B=${C}\n$C=z\nv $A\n$X=a $X\nw $X\nw $X\n');
    expect(texts(r.statements)).toEqual(['v z-z', 'w a $X', 'w a $X']);
    expect(messages(r.diagnostics)).toEqual(["/etc/keepalived/k.conf:5:6: error: definition 'X' refers to itself; left as written"]);
  });

  it('stops definitions that keep doubling at the length bound', () => {
    const defs = [`$L0=${'y'.repeat(200)}`, ...Array.from({ length: 9 }, (_, i) => `$L${i + 1}=\${L${i}}\${L${i}}`)];
    const r = read(`${defs.join('\n')}\nx $L9\n`);
    expect(messages(r.diagnostics)).toEqual([
      "/etc/keepalived/k.conf:2:10: error: substituting 'L0' makes the line longer than 65536 characters; substitution stopped",
    ]);
  });

  it('expands a multi-line definition where it is used, with positions inside the definition', () => {
    const text = [
      '$RS= \\',
      '  real_server 192.168.0.${N} 80 { \\',
      '     @lb1 weight 3 \\',
      '     @lb2 weight 1 \\',
      '  }',
      '$N=1',
      'virtual_server 10.0.0.1 80 {',
      '  $RS',
      '  $N=2',
      '  $RS',
      '}',
    ].join('\n');
    const r = read(text);
    expect(r.diagnostics).toEqual([]);
    expect(outline(r.statements)).toEqual([
      'virtual_server@7:1 10.0.0.1@7:16 80@7:25',
      [
        'real_server@2:3 192.168.0.1@2:15 80@2:30',
        ['weight@3:11 3@3:18'],
        'real_server@2:3 192.168.0.2@2:15 80@2:30',
        ['weight@3:11 3@3:18'],
      ],
    ]);
  });

  it('ends a multi-line definition at an empty line', () => {
    const r = read('$M= \\\n a 1 \\\n\nb 2\n$M\n');
    expect(texts(r.statements)).toEqual(['b 2', 'a 1']);
  });

  it('skips the body of a multi-line definition whose @ID line does not apply', () => {
    const r = read('@lb2 $M= \\\n a 1 \\\n b 2\nc 3\n');
    expect(texts(r.statements)).toEqual(['c 3']);
  });

  it('provides _PWD, _INSTANCE, _ENV, _HASH, _BANG and _RANDOM', () => {
    const r = read('x ${_PWD} ${_INSTANCE} ${_ENV SITE} "${_HASH}${_BANG}" ${_RANDOM} ${_RANDOM 10 20} ${_ENV NOPE}.\n');
    expect(texts(r.statements)).toEqual(['x /etc/keepalived inst0 paris #! 16384 15 .']);
    expect(r.statements[0]!.args[0]!.pos).toEqual({ file: '/etc/keepalived/k.conf', line: 1, column: 3 });
    expect(r.statements[0]!.args[4]!.pos.column).toBe(56);
  });

  it('reports bad parameters of predefined definitions and leaves the text', () => {
    const r = read('x "${_RANDOM a}" ${_RANDOM 9 2}\n');
    expect(messages(r.diagnostics)).toEqual([
      '/etc/keepalived/k.conf:1:4: error: ${_RANDOM} takes numbers only',
      '/etc/keepalived/k.conf:1:18: error: ${_RANDOM}: min 9 exceeds max 2, using 9',
    ]);
    expect(texts(r.statements)).toEqual(['x ${_RANDOM a} 9']);
  });

  it('lets a configuration redefine a predefined name', () => {
    expect(texts(read('$_HASH=sharp\nx ${_HASH}\n').statements)).toEqual(['x sharp']);
  });
});

describe('~SEQ and ~LST generators', () => {
  it('repeats the rest of the line for each value of ~SEQ', () => {
    const r = read('~SEQ(SUBNET, 0, 3) ip_address 10.0.${SUBNET}.1\n');
    expect(texts(r.statements)).toEqual(['ip_address 10.0.0.1', 'ip_address 10.0.1.1', 'ip_address 10.0.2.1', 'ip_address 10.0.3.1']);
    expect(outline(r.statements)[0]).toBe('ip_address@1:20 10.0.0.1@1:31');
  });

  it('supports the short forms, negative steps and ~SEQx', () => {
    expect(texts(read('~SEQ(I,3) a $I\n').statements)).toEqual(['a 1', 'a 2', 'a 3']);
    expect(texts(read('~SEQ(I,-2) a $I\n').statements)).toEqual(['a -1', 'a -2']);
    expect(texts(read('~SEQ(I,5,3) a $I\n').statements)).toEqual(['a 5', 'a 4', 'a 3']);
    expect(texts(read('~SEQx(S, 0x90, 0x10, 0xc0) fe80::20:${S}:1\n').statements)).toEqual([
      'fe80::20:90:1',
      'fe80::20:a0:1',
      'fe80::20:b0:1',
      'fe80::20:c0:1',
    ]);
  });

  it('substitutes definitions in ~SEQ bounds', () => {
    expect(texts(read('$N=2\n~SEQ(I, 1, $N) a $I\n').statements)).toEqual(['a 1', 'a 2']);
  });

  it('nests generators, innermost fastest, and combines ~LST with ~SEQ', () => {
    expect(texts(read('~LST(IP, 1, 2) ~LST(IP1, 5,6) 192.169.${IP}.${IP1}\n').statements)).toEqual([
      '192.169.1.5',
      '192.169.1.6',
      '192.169.2.5',
      '192.169.2.6',
    ]);
    expect(texts(read('~LST({IP, IP1}, {10,1},{20,4}) ~SEQ(IP2,168,2,170) 192.${IP2}.${IP}.${IP1}\n').statements)).toEqual([
      '192.168.10.1',
      '192.170.10.1',
      '192.168.20.4',
      '192.170.20.4',
    ]);
  });

  it('blanks missing ~LST values and points values at where they were written', () => {
    const r = read('~LST({A, B}, {x}, {y, z}) v ${A}${B}\n');
    expect(outline(r.statements)).toEqual(['v@1:27 x@1:15', 'v@1:27 yz@1:20']);
  });

  it('generates blocks from a multi-line definition', () => {
    const r = read('$VS= \\\n virtual_server 10.0.0.${I} 80 { \\\n   lb_algo rr \\\n }\n~SEQ(I, 1, 2) $VS\n');
    expect(r.diagnostics).toEqual([]);
    expect(texts(r.statements)).toEqual(['virtual_server 10.0.0.1 80', '  lb_algo rr', 'virtual_server 10.0.0.2 80', '  lb_algo rr']);
  });

  it('reports malformed generators where they start', () => {
    const r = read('~SEQ(I, 1, 0, 5) a\n~SEQ I\n~LST(X)\n~LST(X, a b)\n~SEQx(I, -1, 2) a\n~SEQ(I, 1, zz) a\n');
    expect(messages(r.diagnostics)).toEqual([
      '/etc/keepalived/k.conf:1:1: error: invalid ~SEQ values: step 0 never goes from 1 to 5',
      "/etc/keepalived/k.conf:2:6: error: invalid ~SEQ: expected '(' after ~SEQ",
      "/etc/keepalived/k.conf:3:7: error: invalid ~LST: expected ',' after the variable names",
      "/etc/keepalived/k.conf:4:11: error: invalid ~LST: expected ',' between values",
      '/etc/keepalived/k.conf:5:1: error: ~SEQx is only valid for positive numbers',
      "/etc/keepalived/k.conf:6:1: error: invalid ~SEQ number 'zz'",
    ]);
    expect(r.statements).toEqual([]);
  });

  it('refuses to generate an unbounded number of lines', () => {
    const started = Date.now();
    const r = read('~SEQ(I, 1, 999999999999) a $I\n');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(messages(r.diagnostics)).toEqual([
      '/etc/keepalived/k.conf:1:1: error: ~SEQ/~LST and multi-line definitions would produce more than 200000 lines; not expanded',
    ]);
  });
});
