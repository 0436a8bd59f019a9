#!/usr/bin/env node
// @ts-check
// The client of kernel scenarios: one HTTP/1.0 GET to HOST:PORT over a new TCP connection,
// then the next one INTERVAL ms after it ended (sequential, as keepalived's reference loop),
// each with a TIMEOUT. One line per request: `<Date.now() at start> ok` or `... fail <why>`.
import { connect } from 'node:net';

const [host = '10.99.0.100', port = '80', interval = '50', timeout = '1000'] = process.argv.slice(2);

function once() {
  const started = Date.now();
  let answer = '';
  let done = false;
  const finish = (/** @type {string} */ outcome) => {
    if (done) return;
    done = true;
    socket.destroy();
    process.stdout.write(`${started} ${outcome}\n`);
    setTimeout(once, Number(interval));
  };
  const socket = connect({ host, port: Number(port) }, () => socket.write('GET / HTTP/1.0\r\n\r\n'));
  socket.setTimeout(Number(timeout), () => finish('fail timeout'));
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => { answer += chunk; });
  socket.on('error', (error) => finish(`fail ${/** @type {NodeJS.ErrnoException} */ (error).code ?? error.message}`));
  socket.on('end', () => finish(/^HTTP\/1\.\d 200 /.test(answer) ? 'ok' : `fail status ${answer.slice(9, 12) || 'none'}`));
}

process.on('SIGTERM', () => process.exit(0));
once();
