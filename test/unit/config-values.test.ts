// Value parsing, keepalived's script-line tokenizer, did-you-mean, and group ranges.
import { describe, expect, it } from 'vitest';
import { Diagnostics, type Token } from '../../src/config/ast.js';
import { parseRange, rangeAddresses } from '../../src/config/server-group.js';
import { scriptWords, ScriptSyntaxError } from '../../src/config/script-words.js';
import { editDistance, suggest } from '../../src/config/suggest.js';
import { ParseContext, canonicalIPv6, netmaskPrefix, timerMs } from '../../src/config/values.js';

const tok = (text: string): Token => ({ text, pos: { file: 'f', line: 1, column: 1 }, quoted: false });

describe('scriptWords', () => {
  it('splits on white space and keeps quoted strings whole', () => {
    expect(scriptWords(`"/bin/notify master" root`)).toEqual(['/bin/notify master', 'root']);
    expect(scriptWords(`'/bin/a "b c"' user group`)).toEqual(['/bin/a "b c"', 'user', 'group']);
    expect(scriptWords('a"b c"d')).toEqual(['ab cd']);
  });

  it('decodes escapes, also inside quotes', () => {
    expect(scriptWords('a\\tb "\\x41\\102" \\cA \\q')).toEqual(['a\tb', 'AB', '\x01', 'q']);
  });

  it('rejects an unterminated quote and a trailing backslash', () => {
    expect(() => scriptWords('"abc')).toThrow(ScriptSyntaxError);
    expect(() => scriptWords('abc\\')).toThrow(ScriptSyntaxError);
  });
});

describe('suggest', () => {
  it('counts an adjacent transposition as one edit', () => {
    expect(editDistance('retyr', 'retry')).toBe(1);
    expect(editDistance('delay_loop', 'delay_loop')).toBe(0);
  });

  it('proposes the closest keyword only when it is plausibly a typo', () => {
    const words = ['delay_loop', 'delay_before_retry', 'retry', 'connect_timeout'];
    expect(suggest('delay_befor_retry', words)).toBe('delay_before_retry');
    expect(suggest('Retry', words)).toBe('retry');
    expect(suggest('banana', words)).toBeUndefined();
  });
});

describe('values', () => {
  it('reads timers in seconds with microsecond resolution as milliseconds', () => {
    const cx = new ParseContext(new Diagnostics());
    expect(timerMs(tok('1.5'), cx, 'x')).toBe(1500);
    expect(timerMs(tok('0.000001'), cx, 'x')).toBe(0.001);
    expect(timerMs(tok('3'), cx, 'x')).toBe(3000);
    expect(timerMs(tok('abc'), cx, 'x')).toBeUndefined();
    expect(cx.diags.list.map((d) => d.message)).toEqual(['x must be a number of seconds, not `abc`']);
  });

  it('normalizes IPv6 and converts netmasks', () => {
    expect(canonicalIPv6('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(netmaskPrefix('255.255.255.0')).toBe(24);
    expect(netmaskPrefix('255.255.0.255')).toBeUndefined();
  });
});

describe('group ranges', () => {
  it('expands short and full ranges, CIDR blocks and IPv6 ranges', () => {
    expect(parseRange('10.0.0.1-3')).toEqual({ family: 'inet', first: '10.0.0.1', last: '10.0.0.3' });
    expect(parseRange('10.0.0.5-10.0.0.6')).toEqual({ family: 'inet', first: '10.0.0.5', last: '10.0.0.6' });
    expect(rangeAddresses(parseRange('10.0.0.8/30') as { first: string; last: string })).toEqual(['10.0.0.8', '10.0.0.9', '10.0.0.10', '10.0.0.11']);
    expect(rangeAddresses(parseRange('2001:db8::a-c') as { first: string; last: string })).toEqual(['2001:db8::a', '2001:db8::b', '2001:db8::c']);
  });

  it('explains what is wrong with a bad entry', () => {
    expect(parseRange('10.0.0.1/30')).toBe('`10.0.0.1/30` has host bits set');
    expect(parseRange('10.0.0.0/16')).toBe('`10.0.0.0/16`: a group block may vary only in the last octet (/24 or longer)');
    expect(parseRange('10.0.0.5-10.0.1.6')).toBe('`10.0.0.5-10.0.1.6`: a range may vary only in the last octet');
    expect(parseRange('10.0.0.5-3')).toBe('`10.0.0.5-3`: the range ends before it starts');
  });
});
