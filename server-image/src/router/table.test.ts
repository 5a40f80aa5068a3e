import { IDLE_SOCKET_MS, RouteTable } from './table.js';
import type { Routes } from './routes.js';

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
    expect(first?.served.agent.maxSockets).toBe(8);
    // Idle pooled sockets are closed before the model server's 65 s keep-alive would close them.
    expect((first?.served.agent as unknown as { options: { timeout: number } }).options.timeout).toBe(IDLE_SOCKET_MS);
    expect(IDLE_SOCKET_MS).toBeLessThan(65_000);
    t.apply(routes(2, ['a', 'http://a:8080', 0], ['b', 'http://b:8080', 1]));
    expect(t.routes?.generation).toBe(2);
    const second = t.resolve(undefined);
    expect(second?.served.revision).toBe('b');
    t.apply(routes(3, ['a', 'http://a:8080', 1]));
    expect(t.resolve(undefined)?.served.agent).toBe(first?.served.agent);
    t.close();
  });

  it('resolves the mirror target and its tolerance', () => {
    const t = new RouteTable(8, 1000);
    t.apply({ ...routes(1, ['a', 'http://a', 1], ['b', 'http://b', 0]), mirror: { revision: 'b', percent: 100, tolerance: 0.5 } });
    const r = t.resolve(undefined);
    expect(r?.mirror?.revision).toBe('b');
    expect(r?.tolerance).toBe(0.5);
    t.apply({ ...routes(2, ['a', 'http://a', 1], ['b', 'http://b', 0]), mirror: { revision: 'b', percent: 100 } });
    expect(t.resolve(undefined)?.tolerance).toBe(1e-3);
    t.close();
  });
});
