import { IDLE_SOCKET_MS, RouteTable, poolOptions } from './table.js';
import type { Routes } from '../../../contract/routes.js';

const routes = (generation: number, ...revs: [string, string, number][]): Routes => ({
  version: 1,
  generation,
  revisions: revs.map(([name, url, weight]) => ({ name, url, weight })),
});

describe('RouteTable', () => {
  it('resolves nothing before routes are applied', () => {
    const t = new RouteTable(8, 1000);
    expect(t.routes).toBeUndefined();
    expect(t.resolve(undefined)).toBeUndefined();
  });

  it('resolves to pooled targets and keeps a pool across updates while its URL stays', () => {
    const t = new RouteTable(8, 1000);
    t.apply(routes(1, ['a', 'http://a:8080', 1], ['b', 'http://b:8080', 0]));
    const first = t.resolve(undefined);
    expect(first?.served.revision).toBe('a');
    expect(first?.served.url.host).toBe('a:8080');
    expect(first?.served.basePath).toBe('');
    t.apply(routes(2, ['a', 'http://a:8080', 0], ['b', 'http://b:8080', 1]));
    expect(t.routes?.generation).toBe(2);
    const second = t.resolve(undefined);
    expect(second?.served.revision).toBe('b');
    t.apply(routes(3, ['a', 'http://a:8080', 1]));
    expect(t.resolve(undefined)?.served.pool).toBe(first?.served.pool);
    t.close();
  });

  it("keeps a backend URL's path as the prefix of every proxied path", () => {
    const t = new RouteTable(8, 1000);
    t.apply(routes(1, ['a', 'http://a:8080/prefix', 1]));
    expect(t.resolve(undefined)?.served).toMatchObject({ basePath: '/prefix', url: new URL('http://a:8080/prefix') });
    t.close();
  });

  it('gives each starting pod of a held revision a target on its own pool, for that revision only, while listed', () => {
    const t = new RouteTable(8, 1000);
    const pod = 'http://10.0.0.5:8080';
    t.apply({
      version: 1,
      generation: 1,
      revisions: [
        { name: 'a', url: 'http://a:8080', weight: 1, hold: true, startingPods: [pod] },
        { name: 'b', url: 'http://b:8080', weight: 0 },
      ],
    });
    const target = t.startingPod('a', pod);
    expect(target).toMatchObject({ revision: 'a', url: new URL(pod), basePath: '', hold: false });
    expect(target?.pool).not.toBe(t.target('a')?.pool);
    expect(t.target('a')?.hold).toBe(true);
    expect(t.startingPod('b', pod)).toBeUndefined();
    t.apply(routes(2, ['a', 'http://a:8080', 1]));
    expect(t.startingPod('a', pod)).toBeUndefined();
    t.close();
  });

  it('resolves the mirror target and its tolerance', () => {
    const t = new RouteTable(8, 1000);
    t.apply({
      ...routes(1, ['a', 'http://a', 1], ['b', 'http://b', 0]),
      mirror: { revision: 'b', percent: 100, tolerance: 0.5 },
    });
    const r = t.resolve(undefined);
    expect(r?.mirror?.revision).toBe('b');
    expect(r?.tolerance).toBe(0.5);
    t.apply({ ...routes(2, ['a', 'http://a', 1], ['b', 'http://b', 0]), mirror: { revision: 'b', percent: 100 } });
    expect(t.resolve(undefined)?.tolerance).toBe(1e-3);
    t.close();
  });
});

describe('poolOptions', () => {
  it("sizes the pool and closes idle sockets before the model server's 65 s keep-alive, whatever it hints", () => {
    expect(poolOptions(8)).toMatchObject({
      connections: 8,
      pipelining: 1,
      keepAliveTimeout: IDLE_SOCKET_MS,
      keepAliveMaxTimeout: IDLE_SOCKET_MS,
    });
    expect(IDLE_SOCKET_MS).toBeLessThan(65_000);
  });

  it('leaves the time to headers to the proxy and sets no body timeout', () => {
    expect(poolOptions(8)).toMatchObject({ headersTimeout: 0, bodyTimeout: 0 });
  });
});
