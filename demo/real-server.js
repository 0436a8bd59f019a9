// A web server for the demo, run inside a real server's namespace: `/` answers with its name,
// `/health` with 200 (what the directors' HTTP_GET checks ask for). Prints `listening` once it is.
import { createServer } from 'node:http';

const name = process.argv[2] ?? 'rs';
const server = createServer((req, res) => {
  res.setHeader('connection', 'close');
  res.end(req.url === '/health' ? 'ok\n' : `${name}\n`);
});
server.listen(80, '0.0.0.0', () => process.stdout.write('listening\n'));
