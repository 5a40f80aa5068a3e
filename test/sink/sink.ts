/**
 * A payload-log sink for tests and benches: an HTTP server that records every event POSTed to it,
 * as a real sink process would, so the router's payload logging is checked over a real socket.
 *
 * `node dist/test/sink/sink.js` with:
 * - SINK_PORT (default 0: ephemeral), SINK_HOST (default 127.0.0.1);
 * - SINK_OUT: a JSONL file; each event is appended as one line {method, url, headers, body
 *   (base64), at} once its body has arrived (unset: events are only counted);
 * - SINK_MODE: `ok` (answer 200 at once, the default), `error` (answer 500), `stall` (never answer;
 *   the connection stays open until the sender gives up).
 * It prints one JSON line `{"msg":"sink listening","port":N}` when ready; `GET /count` answers
 * `{"count":N}`, the events received so far (any mode).
 */
import fs from 'node:fs';
import http from 'node:http';

type Mode = 'ok' | 'error' | 'stall';

const mode = (process.env.SINK_MODE ?? 'ok') as Mode;
if (!['ok', 'error', 'stall'].includes(mode)) {
  process.stderr.write(`sink: SINK_MODE=${JSON.stringify(mode)}: expected ok, error or stall\n`);
  process.exit(2);
}
const out = process.env.SINK_OUT ? fs.openSync(process.env.SINK_OUT, 'a') : undefined;
let count = 0;

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    count++;
    if (out !== undefined) {
      const line = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('base64'),
        at: new Date().toISOString(),
      };
      fs.writeSync(out, `${JSON.stringify(line)}\n`);
    }
    if (mode === 'ok') res.writeHead(200).end();
    else if (mode === 'error')
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"sink: told to fail"}');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.SINK_PORT ?? 0), process.env.SINK_HOST ?? '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ msg: 'sink listening', port })}\n`);
});
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
