// The demo's client, run inside the client namespace: one HTTP request to the VIP at a time, a new
// connection each, 50 ms apart, 0.5 s timeout; one JSON line per request on stdout:
// {"t": epoch ms when it was sent, "ok": true, "by": "rs2"} or {"t": ..., "ok": false, "error": "ECONNREFUSED"}.
import { get } from 'node:http';

const vip = process.argv[2] ?? '10.99.0.100';
const intervalMs = 50;
const timeoutMs = 500;

function once() {
  const t = Date.now();
  let done = false;
  const finish = (result) => {
    if (done) return;
    done = true;
    process.stdout.write(`${JSON.stringify({ t, ...result })}\n`);
    setTimeout(once, intervalMs);
  };
  const req = get({ host: vip, port: 80, path: '/', agent: false, timeout: timeoutMs }, (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (chunk) => (body += chunk));
    res.on('end', () => finish(res.statusCode === 200 ? { ok: true, by: body.trim() } : { ok: false, error: `HTTP ${res.statusCode}` }));
    res.on('error', (err) => finish({ ok: false, error: err.code ?? err.message }));
  });
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
  req.on('error', (err) => finish({ ok: false, error: err.code ?? err.message }));
}

once();
