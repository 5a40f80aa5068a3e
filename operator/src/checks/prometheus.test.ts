import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { MetricSpec } from '../api/types.js';
import { queryMetric } from './prometheus.js';

/** A loopback stand-in for Prometheus' HTTP API (the e2e suite runs the real one): answers by query. */
let server: Server;
let address: string;
const asked: URL[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    asked.push(url);
    const query = url.searchParams.get('query');
    if (query === 'broken') {
      res.statusCode = 502;
      return res.end('<html>bad gateway</html>');
    }
    if (query === 'bad(') {
      res.statusCode = 400;
      return res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'unclosed left parenthesis' }));
    }
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [1, '0.75'] } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

const metric = (query: string): MetricSpec => ({
  name: 'm',
  prometheus: { address, query },
  thresholdRange: { max: 1 },
});

describe('queryMetric', () => {
  it('asks an instant query at the check time and reads its number', async () => {
    asked.length = 0;
    await expect(queryMetric(metric('sum(up)'), new Date(1_700_000_000_500))).resolves.toEqual({
      name: 'm',
      value: 0.75,
    });
    expect(asked.map((u) => [u.pathname, u.searchParams.get('query'), u.searchParams.get('time')])).toEqual([
      ['/api/v1/query', 'sum(up)', '1700000000.500'],
    ]);
  });

  it.each([
    ['bad(', 'Prometheus error: unclosed left parenthesis'],
    ['broken', 'HTTP 502, not a Prometheus answer'],
  ])('an answer without a number (%s) is an error, never a value', async (query, error) => {
    await expect(queryMetric(metric(query), new Date())).resolves.toEqual({ name: 'm', error });
  });
});
