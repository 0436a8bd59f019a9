#!/usr/bin/env node
// @ts-check
// A real server for kernel scenarios: node http on HOST:PORT serving `/health` and `/`.
// SIGUSR1 toggles /health between 200 and 503; SIGUSR2 toggles a 2 s delay on every answer
// (slower than the checks' connect_timeout). Prints `listening` and `mode ...` lines so the
// test knows when a change took effect, and a `health CODE` line per check it answers.
import { createServer } from 'node:http';

const [host = '0.0.0.0', port = '80'] = process.argv.slice(2);
let unhealthy = false;
let slow = false;

const server = createServer((request, response) => {
  // Tests count the checks that reached this server.
  if (request.url === '/health') process.stdout.write(`health ${unhealthy ? 503 : 200}\n`);
  const answer = () => {
    const failing = request.url === '/health' && unhealthy;
    response.writeHead(failing ? 503 : 200, { 'content-type': 'text/plain', connection: 'close' });
    response.end(failing ? 'unhealthy\n' : `${host} ok\n`);
  };
  if (slow) setTimeout(answer, 2000);
  else answer();
});

const report = () => process.stdout.write(`mode health=${unhealthy ? 503 : 200} slow=${slow}\n`);
process.on('SIGUSR1', () => { unhealthy = !unhealthy; report(); });
process.on('SIGUSR2', () => { slow = !slow; report(); });
process.on('SIGTERM', () => process.exit(0));
server.listen(Number(port), host, () => process.stdout.write('listening\n'));
