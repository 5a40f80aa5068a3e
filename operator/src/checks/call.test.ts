import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { WebhookSpec } from '../api/types.js';
import { webhookPayload } from '../rollout/webhooks.js';
import { callWebhook } from './call.js';

/** A loopback server answering each path as told: a status, or never. */
let server: Server;
let base: string;
const bodies: unknown[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push({ contentType: req.headers['content-type'], body: JSON.parse(body) as unknown });
      if (req.url === '/hang') return;
      if (req.url === '/redirect') res.setHeader('location', '/ok');
      res.statusCode = Number(req.url?.slice(1)) || (req.url === '/redirect' ? 302 : 200);
      res.end('ignored');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const hook = (url: string, timeoutSeconds?: number): WebhookSpec => ({
  name: 'kpi',
  type: 'Rollout',
  url,
  metadata: { token: 's3cret' },
  ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
});
const payload = (h: WebhookSpec) =>
  webhookPayload(h, { name: 'digits', namespace: 'ml' }, { revision: 'b', stable: 'a', weight: 10, step: 0 });

describe('callWebhook: only a 2xx passes', () => {
  it.each([
    ['/ok', true, 'HTTP 200'],
    ['/204', true, 'HTTP 204'],
    ['/500', false, 'HTTP 500'],
    ['/404', false, 'HTTP 404'],
    ['/redirect', false, 'HTTP 302'],
  ])('%s: passed %s (%s)', async (path, passed, message) => {
    const h = hook(`${base}${path}`);
    await expect(callWebhook(h, payload(h))).resolves.toEqual({ name: 'kpi', passed, message });
  });

  it('POSTs the payload as JSON, metadata as written', async () => {
    bodies.length = 0;
    const h = hook(`${base}/ok`);
    await callWebhook(h, payload(h));
    expect(bodies).toEqual([
      {
        contentType: 'application/json',
        body: {
          name: 'digits',
          namespace: 'ml',
          type: 'Rollout',
          revision: 'b',
          stable: 'a',
          weight: 10,
          step: 1,
          metadata: { token: 's3cret' },
        },
      },
    ]);
  });

  it('fails without an answer in time, and on a connection error, naming neither URL nor metadata', async () => {
    const slow = hook(`${base}/hang`, 1);
    await expect(callWebhook(slow, payload(slow))).resolves.toEqual({
      name: 'kpi',
      passed: false,
      message: 'no answer within 1s',
    });
    // A port nothing listens on: one just freed.
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const port = (spare.address() as AddressInfo).port;
    await new Promise((resolve) => spare.close(resolve));
    const closed = hook(`http://127.0.0.1:${port}/check?token=s3cret`);
    const refused = await callWebhook(closed, payload(closed));
    expect(refused).toEqual({ name: 'kpi', passed: false, message: 'ECONNREFUSED' });
  });
});
