import { parseRoutes, validateRoutes } from './routes.js';

const base = () => ({
  version: 1,
  generation: 3,
  revisions: [
    { name: 'digits-a', url: 'http://digits-a.ml.svc:8080/', weight: 90 },
    { name: 'digits-b', url: 'http://digits-b.ml.svc:8080', weight: 10 },
  ],
});

describe('validateRoutes', () => {
  it('accepts a full document and normalises it', () => {
    const r = validateRoutes({
      ...base(),
      mirror: { revision: 'digits-b', percent: 50, tolerance: 0.01 },
      stickyHeader: 'X-User',
    });
    expect(r).toEqual({
      ok: true,
      routes: {
        version: 1,
        generation: 3,
        revisions: [
          { name: 'digits-a', url: 'http://digits-a.ml.svc:8080', weight: 90 },
          { name: 'digits-b', url: 'http://digits-b.ml.svc:8080', weight: 10 },
        ],
        mirror: { revision: 'digits-b', percent: 50, tolerance: 0.01 },
        stickyHeader: 'x-user',
      },
    });
  });

  const bad: [string, (d: Record<string, unknown> & ReturnType<typeof base>) => unknown, string][] = [
    ['not an object', () => [], 'routes: must be a JSON object'],
    ['unknown field', (d) => ({ ...d, weights: 1 }), 'weights: unknown field'],
    ['too short a stats interval', (d) => ({ ...d, statsIntervalMs: 99 }), 'statsIntervalMs: must be an integer'],
    ['fractional stats interval', (d) => ({ ...d, statsIntervalMs: 500.5 }), 'statsIntervalMs: must be an integer'],
    ['stats interval as text', (d) => ({ ...d, statsIntervalMs: '5000' }), 'statsIntervalMs: must be an integer'],
    ['wrong version', (d) => ({ ...d, version: 2 }), 'version: must be 1'],
    ['negative generation', (d) => ({ ...d, generation: -1 }), 'generation:'],
    ['no revisions', (d) => ({ ...d, revisions: [] }), 'revisions: must be a non-empty array'],
    [
      'bad name',
      (d) => {
        d.revisions[0].name = 'Digits_A';
        return d;
      },
      'revisions[0].name',
    ],
    [
      'duplicate name',
      (d) => {
        d.revisions[1].name = 'digits-a';
        return d;
      },
      'revisions[1].name: duplicate',
    ],
    [
      'https url',
      (d) => {
        d.revisions[1].url = 'https://x';
        return d;
      },
      'revisions[1].url: must be an http://',
    ],
    [
      'garbage url',
      (d) => {
        d.revisions[1].url = 'not a url';
        return d;
      },
      'revisions[1].url: not a valid URL',
    ],
    [
      'url with query',
      (d) => {
        d.revisions[0].url = 'http://x/?a=1';
        return d;
      },
      'revisions[0].url: must not have a query',
    ],
    [
      'fractional weight',
      (d) => {
        d.revisions[0].weight = 9.5;
        return d;
      },
      'revisions[0].weight',
    ],
    [
      'negative weight',
      (d) => {
        d.revisions[0].weight = -1;
        return d;
      },
      'revisions[0].weight',
    ],
    [
      'all weights zero',
      (d) => {
        d.revisions[0].weight = 0;
        d.revisions[1].weight = 0;
        return d;
      },
      'at least one weight',
    ],
    ['mirror to unknown', (d) => ({ ...d, mirror: { revision: 'nope', percent: 10 } }), 'mirror.revision'],
    ['mirror percent > 100', (d) => ({ ...d, mirror: { revision: 'digits-b', percent: 101 } }), 'mirror.percent'],
    [
      'mirror bad tolerance',
      (d) => ({ ...d, mirror: { revision: 'digits-b', percent: 1, tolerance: -1 } }),
      'mirror.tolerance',
    ],
    ['bad sticky header', (d) => ({ ...d, stickyHeader: 'a b' }), 'stickyHeader'],
    ['model with a slash', (d) => ({ ...d, revisions: [{ ...d.revisions[0], model: '../x' }] }), 'revisions[0].model'],
    [
      'token file out of the token directory',
      (d) => ({ ...d, revisions: [{ ...d.revisions[0], tokenFile: '../serviceaccount/token' }] }),
      'revisions[0].tokenFile',
    ],
    [
      'absolute token file',
      (d) => ({
        ...d,
        revisions: [{ ...d.revisions[0], tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' }],
      }),
      'revisions[0].tokenFile',
    ],
    [
      'token file with a dot segment',
      (d) => ({ ...d, revisions: [{ ...d.revisions[0], tokenFile: 'auth/./token' }] }),
      'revisions[0].tokenFile',
    ],
    [
      'empty token file',
      (d) => ({ ...d, revisions: [{ ...d.revisions[0], tokenFile: '' }] }),
      'revisions[0].tokenFile',
    ],
    [
      'token file not a string',
      (d) => ({ ...d, revisions: [{ ...d.revisions[0], tokenFile: 7 }] }),
      'revisions[0].tokenFile',
    ],
  ];
  it.each(bad)('rejects %s naming the field', (_name, mutate, message) => {
    const r = validateRoutes(mutate(base()));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toContain(message);
  });

  it("keeps a revision's model name", () => {
    const d = base();
    const r = validateRoutes({ ...d, revisions: [{ ...d.revisions[0], model: 'digits' }, d.revisions[1]] });
    expect(r.ok && r.routes.revisions.map((x) => x.model)).toEqual(['digits', undefined]);
  });

  it("keeps a revision's token file (a Secret name and key under the token directory)", () => {
    const d = base();
    const r = validateRoutes({
      ...d,
      revisions: [{ ...d.revisions[0], tokenFile: 'digits-token/.token_v2' }, d.revisions[1]],
    });
    expect(r.ok && r.routes.revisions.map((x) => x.tokenFile)).toEqual(['digits-token/.token_v2', undefined]);
  });

  it('keeps the stats interval, a rollout setting the routers take without a restart', () => {
    const r = validateRoutes({ ...base(), statsIntervalMs: 2500 });
    expect(r.ok && r.routes.statsIntervalMs).toBe(2500);
    const plain = validateRoutes(base());
    expect(plain.ok && 'statsIntervalMs' in plain.routes).toBe(false);
  });

  it("keeps a held revision's starting pods, and refuses them without hold or as anything but http URLs", () => {
    const held = (extra: Record<string, unknown>) => {
      const d = base();
      Object.assign(d.revisions[1], extra);
      return validateRoutes({ ...d, holdTimeoutMs: 30000 });
    };
    const ok = held({ hold: true, startingPods: ['http://10.244.0.7:8080/'] });
    expect(ok.ok && ok.routes.revisions[1]).toEqual({
      name: 'digits-b',
      url: 'http://digits-b.ml.svc:8080',
      weight: 10,
      hold: true,
      startingPods: ['http://10.244.0.7:8080'],
    });
    expect(ok.ok && ok.routes.holdTimeoutMs).toBe(30000);
    const error = (r: ReturnType<typeof validateRoutes>) => (r.ok ? 'accepted' : r.error);
    expect(error(held({ startingPods: ['http://10.244.0.7:8080'] }))).toBe(
      'revisions[1].startingPods: only with hold: true',
    );
    expect(error(held({ hold: true, startingPods: ['https://10.244.0.7:8080'] }))).toBe(
      'revisions[1].startingPods[0]: must be an http:// URL, got https:',
    );
    expect(error(held({ hold: 'yes' }))).toBe('revisions[1].hold: must be true or false');
    expect(error(validateRoutes({ ...base(), holdTimeoutMs: 50 }))).toBe(
      'holdTimeoutMs: must be an integer between 100 and 600000',
    );
  });

  it('allows weight 0 for a revision that only receives mirrored traffic', () => {
    const d = base();
    d.revisions[1].weight = 0;
    expect(validateRoutes({ ...d, mirror: { revision: 'digits-b', percent: 100 } }).ok).toBe(true);
  });
});

describe('parseRoutes', () => {
  it('reports invalid JSON', () => {
    const r = parseRoutes('{"version": 1,');
    expect(!r.ok && r.error).toMatch(/^routes: invalid JSON/);
  });
  it('parses valid JSON', () => {
    expect(parseRoutes(JSON.stringify(base())).ok).toBe(true);
  });
});
