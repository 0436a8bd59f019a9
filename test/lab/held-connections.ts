// Established connections held open through the VIP from the client namespace, to show what a
// change of the table does to connections already in it: each is opened and left idle (an
// HTTP server waits for the request), and released one at a time by sending its request, so
// the answer proves the connection still worked and names the real server that served it.
import { spawnIn } from './netns.js';
import { OutputLines } from './lvs-topology.js';

// Run with `node -e`: a lab process in a namespace must be a file or a source string, and this
// one exists only for this helper. Lines: `open I`, `ready`, `answered I STATUS BODY`,
// `error I CODE` (a reset or a timeout of a held connection), `closed I` (closed before release).
const source = String.raw`
const net = require('node:net');
const [host, port, count] = process.argv.slice(1);
const sockets = [];
const released = new Set();
let opened = 0;
const say = (line) => process.stdout.write(line + '\n');
for (let i = 0; i < Number(count); i++) {
  const socket = net.connect({ host, port: Number(port) }, () => {
    say('open ' + i);
    if (++opened === Number(count)) say('ready');
  });
  let answer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => { answer += chunk; });
  socket.on('error', (error) => say('error ' + i + ' ' + (error.code || error.message)));
  socket.on('end', () => {
    if (!released.has(i)) return say('closed ' + i);
    const status = answer.slice(9, 12) || 'none';
    const body = answer.split('\r\n\r\n')[1] || '';
    say('answered ' + i + ' ' + status + ' ' + body.trim());
  });
  sockets.push(socket);
}
process.on('SIGUSR1', () => {
  const i = sockets.findIndex((s, n) => !released.has(n));
  if (i < 0) return;
  released.add(i);
  sockets[i].write('GET / HTTP/1.0\r\n\r\n');
});
process.on('SIGTERM', () => process.exit(0));
`;

export interface Answer {
  index: number;
  status: string;
  /** http-real-server.js answers `ADDRESS ok`: the real server that served the connection. */
  body: string;
}

export class HeldConnections {
  readonly output: OutputLines;

  constructor(ns: string, host: string, port: number, count: number) {
    const child = spawnIn(ns, [process.execPath, '-e', source, host, String(port), String(count)], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.output = new OutputLines(child);
  }

  async ready(timeoutMs: number): Promise<void> {
    await this.output.waitFor(/^ready$/, 0, timeoutMs);
  }

  /** Held connections that were reset, timed out or closed by the other side before release. */
  broken(): string[] {
    return this.output.lines.filter((l) => l.startsWith('error ') || l.startsWith('closed '));
  }

  /** Sends the request on the next held connection and resolves with its answer. */
  async release(timeoutMs: number): Promise<Answer> {
    const mark = this.output.lines.length;
    this.output.child.kill('SIGUSR1');
    await this.output.waitFor(/^(answered|error|closed) /, mark, timeoutMs);
    const line = this.output.lines.slice(mark).find((l) => /^(answered|error|closed) /.test(l))!;
    const [kind, index, status = '', ...body] = line.split(' ');
    if (kind !== 'answered') throw new Error(`held connection ${index}: ${line}`);
    return { index: Number(index), status, body: body.join(' ') };
  }
}
