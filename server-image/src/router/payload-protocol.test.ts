import type { PayloadLogRoute } from '../../../contract/payload-log.js';
import type { ObservedExchange } from './observe.js';
import { ExchangePacker, unpackExchanges, type Packable } from './payload-protocol.js';

const route: PayloadLogRoute = {
  url: 'http://sink.ml.svc/events',
  percent: 100,
  mode: 'all',
  modelDeployment: 'digits',
  namespace: 'ml',
};

/** A body in a slice of a larger buffer, as a socket read gives it. */
function sliceOf(bytes: number[]): Buffer {
  const read = Buffer.alloc(64 * 1024, 0xee);
  read.set(bytes, 1000);
  return read.subarray(1000, 1000 + bytes.length);
}

const exchange = (id: string, over: Partial<ObservedExchange> = {}): ObservedExchange => ({
  revision: 'digits-a41b2',
  requestId: id,
  method: 'POST',
  path: '/v2/models/mlp/infer',
  at: 1_765_100_000_123,
  request: { contentType: 'application/octet-stream', inferenceHeaderLength: 3, body: sliceOf([0, 255, 10, 13]) },
  status: 200,
  response: { body: Buffer.from('{"outputs":[]}') },
  ...over,
});

/** The batch of `items`, packed one by one as the logger does. */
function packed(items: Packable[], packer = new ExchangePacker()) {
  for (const item of items) packer.add(item);
  return packer.take(route);
}

describe('ExchangePacker and unpackExchanges', () => {
  it('carry each logged half byte for byte with its headers, and no byte of the buffers the bodies are slices of', () => {
    const items: Packable[] = [
      { exchange: exchange('a'), now: 1_765_100_000_200, request: true, response: true },
      { exchange: exchange('b', { status: 503 }), now: 1_765_100_000_300, request: true, response: false },
      { exchange: exchange('c'), now: 1_765_100_000_400, request: false, response: true },
    ];
    const packer = new ExchangePacker();
    for (const item of items) packer.add(item);
    expect([packer.exchanges, packer.events, packer.bodies]).toEqual([3, 4, 4 + 14 + 4 + 14]);
    const batch = packer.take(route);
    // The packer starts afresh; the batch holds copies, not the socket reads the bodies are slices of.
    expect([packer.exchanges, packer.events, packer.bodies]).toEqual([0, 0, 0]);

    const out = unpackExchanges(batch);
    expect(out.map((o) => [o.exchange.requestId, o.now, o.request, o.response, o.exchange.status])).toEqual([
      ['a', 1_765_100_000_200, true, true, 200],
      ['b', 1_765_100_000_300, true, false, 503],
      ['c', 1_765_100_000_400, false, true, 200],
    ]);
    const [a, b, c] = out;
    out.forEach((o, i) => {
      expect(o.exchange.request.body.buffer).not.toBe(items[i].exchange.request.body.buffer);
      if (o.request) expect(o.exchange.request.body.buffer).toBe(batch.bytes);
    });
    expect(a.exchange).toMatchObject({ revision: 'digits-a41b2', at: 1_765_100_000_123 });
    expect(a.exchange.request).toEqual({
      contentType: 'application/octet-stream',
      inferenceHeaderLength: 3,
      body: Buffer.from([0, 255, 10, 13]),
    });
    // No content type and no header length stay absent, not empty.
    expect(a.exchange.response).toEqual({ body: Buffer.from('{"outputs":[]}') });
    expect(b.exchange.request.body).toEqual(Buffer.from([0, 255, 10, 13]));
    expect(b.exchange.response.body.byteLength).toBe(0);
    expect(c.exchange.request.body.byteLength).toBe(0);
    expect(c.exchange.response.body.toString()).toBe('{"outputs":[]}');
  });

  it('keeps every string as the router had it: latin1 header values, an empty one, an absent one', () => {
    const [o] = unpackExchanges(
      packed([
        {
          exchange: exchange('id-\x7e', {
            revision: 'digits-00001',
            request: { contentType: 'text/plain; name=caf\xe9', body: Buffer.from('x') },
            response: { contentType: '', body: Buffer.from('y') },
          }),
          now: 1,
          request: true,
          response: true,
        },
      ]),
    );
    expect(o.exchange.requestId).toBe('id-\x7e');
    expect(o.exchange.revision).toBe('digits-00001');
    expect(o.exchange.request).toEqual({ contentType: 'text/plain; name=caf\xe9', body: Buffer.from('x') });
    expect(o.exchange.response).toEqual({ contentType: '', body: Buffer.from('y') });
  });

  it('fills a buffer the sender gave back rather than a new one, when it is large enough', () => {
    const packer = new ExchangePacker();
    const first = packed([{ exchange: exchange('a'), now: 1, request: true, response: true }], packer);
    packer.recycle(first.bytes);
    // The packer took its next buffer when it handed the first over; the one after reuses the spare.
    packed([{ exchange: exchange('b'), now: 2, request: true, response: true }], packer);
    const third = packed([{ exchange: exchange('c'), now: 3, request: true, response: true }], packer);
    expect(third.bytes).toBe(first.bytes);
    expect(unpackExchanges(third)[0].exchange.requestId).toBe('c');
  });

  it('packs nothing of an empty batch', () => {
    expect(unpackExchanges(packed([]))).toEqual([]);
  });

  it('grows past its first room, in exchanges and in bytes, and keeps every body whole and in order', () => {
    const packer = new ExchangePacker();
    const big = (i: number) => Buffer.alloc(10_000 + i, i % 251);
    const items: Packable[] = Array.from({ length: 300 }, (_, i) => ({
      exchange: exchange(`r${i}`, { request: { body: big(i) }, response: { body: Buffer.from(`{"i":${i}}`) } }),
      now: i,
      request: true,
      response: i % 2 === 0,
    }));
    const out = unpackExchanges(packed(items, packer));
    expect(out).toHaveLength(300);
    out.forEach((o, i) => {
      expect(o.exchange.requestId).toBe(`r${i}`);
      expect(o.exchange.request.body.equals(big(i))).toBe(true);
      expect(o.exchange.response.body.toString()).toBe(i % 2 === 0 ? `{"i":${i}}` : '');
    });
    // The next batch is packed as well as the first.
    const again = unpackExchanges(packed(items.slice(0, 2), packer));
    expect(again.map((o) => o.exchange.request.body.byteLength)).toEqual([10_000, 10_001]);
  });
});
