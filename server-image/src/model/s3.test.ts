import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import type { FetchFailureReason } from '../../../contract/model-source.js';
import type { StoreSettings } from './remote.js';
import { s3Source } from './s3.js';

// What the S3 client sends and how its answers are read, against a loopback server speaking S3's
// wire format. MinIO itself is in server-image/test/model/.
describe('s3Source', () => {
  let server: Server;
  let endpoint: string;
  let seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  const errorXml = (code: string): string =>
    `<?xml version="1.0"?><Error><Code>${code}</Code><Message>no</Message></Error>`;

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      const key = (req.url ?? '').split('?')[0];
      const status: Record<string, [number, string]> = {
        '/models/missing.onnx': [404, 'NoSuchKey'],
        '/models/private.onnx': [403, 'AccessDenied'],
        '/models/busy.onnx': [503, 'SlowDown'],
      };
      const error = status[key];
      if (error !== undefined) {
        res.writeHead(error[0], { 'content-type': 'application/xml' });
        res.end(req.method === 'HEAD' ? undefined : errorXml(error[1]));
        return;
      }
      res.writeHead(200, { 'content-length': '5', 'content-type': 'application/octet-stream' });
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => {
    seen = [];
  });

  const settings = (extra: Partial<StoreSettings> = {}): StoreSettings => ({
    endpoint,
    pathStyle: true,
    credentials: {},
    ...extra,
  });
  const request = (key: string, extra: Partial<StoreSettings> = {}) => ({
    uri: `s3://models/${key}`,
    settings: settings(extra),
    signal: new AbortController().signal,
  });

  test('anonymous: an unsigned GET of the object, path-style, whatever AWS_* variables say', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'FROM_ENV';
    process.env.AWS_SECRET_ACCESS_KEY = 'FROM_ENV_SECRET';
    try {
      const object = await s3Source.open(request('digits.onnx'));
      expect(await text(object.body)).toBe('hello');
      expect(object.bytes).toBe(5);
    } finally {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('GET');
    expect(seen[0].url).toMatch(/^\/models\/digits\.onnx(\?|$)/);
    expect(seen[0].headers.authorization).toBeUndefined();
    expect(seen[0].headers['x-amz-date']).toBeUndefined();
  });

  test('with credentials: a SigV4-signed request naming the access key (never the secret)', async () => {
    const creds = { s3: { accessKeyId: 'AKIATEST', secretAccessKey: 'super/secret' } };
    await s3Source.probe(request('digits.onnx', { credentials: creds, region: 'eu-west-1' }));
    expect(seen[0].method).toBe('HEAD');
    expect(seen[0].headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIATEST\/\d+\/eu-west-1\/s3\//);
    expect(JSON.stringify(seen[0].headers)).not.toContain('super/secret');
  });

  test.each([
    ['missing.onnx', 'open', 'ModelNotFound', /NoSuchKey: no \(HTTP 404\)/],
    ['missing.onnx', 'probe', 'ModelNotFound', /HTTP 404/],
    ['private.onnx', 'open', 'ModelAccessDenied', /AccessDenied: no \(HTTP 403\)/],
    ['private.onnx', 'probe', 'ModelAccessDenied', /HTTP 403/],
    ['busy.onnx', 'open', 'ModelSourceUnavailable', /SlowDown: no \(HTTP 503\)/],
  ] as const)('%s on %s is %s', async (key, verb, reason: FetchFailureReason, message) => {
    const run = verb === 'open' ? s3Source.open(request(key)) : s3Source.probe(request(key));
    const err = (await run.then(
      () => undefined,
      (e: unknown) => e,
    )) as { reason?: string; message: string };
    expect(err.reason).toBe(reason);
    expect(err.message).toMatch(new RegExp(`^${verb === 'open' ? 'fetch' : 'probe'} model s3://models/${key}: `));
    expect(err.message).toMatch(message);
  });
});
