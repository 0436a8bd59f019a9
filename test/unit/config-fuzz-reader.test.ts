import { describe, expect, it } from 'vitest';
import type { SourcePosition, Statement } from '../../src/config/ast.js';
import { readConfig } from '../../src/config/reader.js';
import { memoryFiles } from './config-reader-helpers.js';
import { seededRandom } from './seeded-random.js';

const MAIN = `! director configuration
global_defs {
   router_id LVS_DEVEL
   notification_email { ops@example.com }
   include_check +match
}
$PORT=80
$RS= \\
  real_server 192.168.1.\${N} $PORT { \\
     weight 1 \\
     @lb1 inhibit_on_failure \\
     TCP_CHECK { connect_timeout 3 } \\
  }
vrrp_script chk_nginx {
   script "/usr/bin/pgrep nginx # not a comment"
   interval 2
}
vrrp_instance VI_1 {
   @lb1 state MASTER
   @^lb1 state BACKUP
   interface eth0
   virtual_router_id 51
   priority 100
   virtual_ipaddress {
      ~SEQ(I, 10, 12) 10.0.0.\${I}/24
   }
   track_script { chk_nginx }
}
virtual_server 10.0.0.10 $PORT
{
   delay_loop 6
   lb_algo wrr
   lb_kind DR
   protocol TCP
   ~LST(N, 1, 2, 3) $RS
   real_server 192.168.1.9 80 {
       HTTP_GET {
           url { path /health digest 9b3a0c85a887a256d6939da88aabd8cd }
           connect_timeout 3 \\
              retry 3
       }
   }
   include inc.conf
}
include loop.conf
`;

const INC = `real_server 192.168.1.20 \${PORT} {
  weight \${_RANDOM 1 5}
  MISC_CHECK { misc_path "\${_PWD}/check.sh \${_ENV HOME}" }
}
`;

const LOOP = 'include main.conf\n@lb1 loop_marker 1\n';

const NASTY = ['{', '}', '"', '\\', '!', '#', '$', '${', '~SEQ(', '~LST(', '@', '@^', '\u0000', '\u0007', '\uFFFD', 'é', '\t', ' ', '\n', '\r', '$PORT', '${RS}', 'include ', '99999999999999999999'];

function mutate(text: string, random: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const at = (): number => Math.floor(random() * (text.length + 1));
  let out = text;
  const rounds = 1 + Math.floor(random() * 4);
  for (let r = 0; r < rounds; r++) {
    const lines = out.split('\n');
    const line = Math.floor(random() * lines.length);
    switch (Math.floor(random() * 9)) {
      case 0: {
        // Delete a brace.
        const braces = [...out.matchAll(/[{}]/g)].map((m) => m.index);
        if (braces.length > 0) {
          const i = pick(braces);
          out = out.slice(0, i) + out.slice(i + 1);
        }
        break;
      }
      case 1:
        // Truncate a line.
        lines[line] = lines[line]!.slice(0, Math.floor(random() * lines[line]!.length));
        out = lines.join('\n');
        break;
      case 2: {
        // Random bytes, including NUL and controls.
        const i = at();
        const bytes = Array.from({ length: 1 + Math.floor(random() * 8) }, () => String.fromCharCode(Math.floor(random() * 256))).join('');
        out = out.slice(0, i) + bytes + out.slice(i);
        break;
      }
      case 3: {
        // A dialect token somewhere.
        const i = at();
        out = out.slice(0, i) + pick(NASTY) + out.slice(i);
        break;
      }
      case 4: {
        // Deep nesting.
        const depth = Math.floor(random() * 200);
        lines.splice(line, 0, 'n {'.repeat(depth), random() < 0.5 ? '}'.repeat(depth) : '');
        out = lines.join('\n');
        break;
      }
      case 5:
        // Huge numbers.
        out = out.replace(/\d+/, () => (random() < 0.5 ? '99999999999999999999' : String(Math.floor(random() * 2 ** 40))));
        break;
      case 6:
        // Generators and definitions gone wrong.
        lines.splice(line, 0, pick(['~SEQ(I, 1, 999999999) x $I', '~SEQ(I,', '~LST({A,B},{1,2,3})', '$X=${X}${X}', '$Y=$Y y', 'z ${X} $Y', '~SEQ(J,0,20) ~SEQ(K,0,20) $RS', '$M= \\']));
        out = lines.join('\n');
        break;
      case 7:
        // Include loops and strange includes.
        lines.splice(line, 0, pick(['include main.conf', 'include loop.conf', 'includea nothing/*', 'include {a,b', 'include inc.conf', 'include /f/[', 'includeb {main,loop}.conf']));
        out = lines.join('\n');
        break;
      default:
        // Swap two lines.
        if (lines.length > 1) {
          const other = Math.floor(random() * lines.length);
          [lines[line], lines[other]] = [lines[other]!, lines[line]!];
          out = lines.join('\n');
        }
    }
  }
  return out;
}

/** Lengths of every line of every file, to check positions against. */
function lineLengths(files: Record<string, string>): Map<string, number[]> {
  return new Map(Object.entries(files).map(([name, text]) => [name, text.split('\n').map((l) => l.replace(/\r$/, '').length)]));
}

function withinInput(pos: SourcePosition, lengths: Map<string, number[]>): boolean {
  const lines = lengths.get(pos.file);
  if (!lines || !Number.isInteger(pos.line) || pos.line < 1 || pos.line > lines.length) return false;
  return Number.isInteger(pos.column) && pos.column >= 1 && pos.column <= lines[pos.line - 1]! + 1;
}

function* positions(statements: Statement[]): Generator<SourcePosition> {
  for (const s of statements) {
    yield s.keyword.pos;
    for (const a of s.args) yield a.pos;
    if (s.end) yield s.end;
    if (s.children) yield* positions(s.children);
  }
}

describe('reader fuzz', () => {
  it('never throws or hangs, and every position lies within the input', () => {
    const random = seededRandom(0x1bad5eed);
    const clean = { '/f/main.conf': MAIN, '/f/inc.conf': INC, '/f/loop.conf': LOOP };
    const baseline = readConfig('/f/main.conf', { configId: 'lb1', readFile: memoryFiles(clean), env: {}, random: () => 0 });
    expect(baseline.diagnostics.map((d) => d.message)).toEqual(["include loop: '/f/main.conf' is already being read; not included again"]);

    let slowest = 0;
    for (let i = 0; i < 3000; i++) {
      const files: Record<string, string> = { ...clean };
      const target = random() < 0.8 ? '/f/main.conf' : random() < 0.5 ? '/f/inc.conf' : '/f/loop.conf';
      files[target] = mutate(files[target]!, random);
      const started = performance.now();
      const r = readConfig('/f/main.conf', { configId: random() < 0.5 ? 'lb1' : 'lb2', readFile: memoryFiles(files), env: {}, random });
      const elapsed = performance.now() - started;
      slowest = Math.max(slowest, elapsed);
      expect(elapsed, `input ${i} took ${elapsed.toFixed(0)} ms`).toBeLessThan(3000);
      const lengths = lineLengths(files);
      for (const d of r.diagnostics) {
        if (!withinInput(d.pos, lengths) || (d.severity !== 'error' && d.severity !== 'warning')) expect.fail(`input ${i}: ${JSON.stringify(d)}`);
      }
      for (const pos of positions(r.statements)) {
        if (!withinInput(pos, lengths)) expect.fail(`input ${i}: statement at ${JSON.stringify(pos)}`);
      }
    }
    expect(slowest).toBeGreaterThan(0);
  }, 120_000);
});
