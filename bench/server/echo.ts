/**
 * The HTTP ceiling: a bare node:http server that reads each request body in full and answers every
 * request with the same small V2-shaped JSON. No routing, no parsing, no inference; whatever our
 * server achieves is measured against what node's HTTP stack alone can do on this machine.
 *
 * Usage: node dist/bench/server/echo.js PORT
 */
import { createServer } from 'node:http';

const BODY = Buffer.from(JSON.stringify({ model_name: 'echo', model_version: '1', outputs: [] }));
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`echo: expected a port number as the first argument, got ${JSON.stringify(process.argv[2])}`);
  process.exit(2);
}

const server = createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
    res.end(BODY);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
