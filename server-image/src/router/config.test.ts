import { DEFAULT_PAYLOAD_QUEUE, DEFAULT_PAYLOAD_QUEUE_BYTES, parseRouterConfig } from './config.js';

describe('parseRouterConfig', () => {
  it('fills defaults for a ConfigMap source', () => {
    expect(
      parseRouterConfig(
        { MODELSHIP_ROUTES_CONFIGMAP: 'digits-routes', MODELSHIP_NAMESPACE: 'ml' },
        'digits-router-abc',
      ),
    ).toEqual({
      host: '0.0.0.0',
      port: 8080,
      metricsPort: 9090,
      source: { kind: 'configmap', namespace: 'ml', name: 'digits-routes' },
      statsConfigMap: 'digits-routes-stats',
      statsIntervalMs: 5000,
      podName: 'digits-router-abc',
      timeoutMs: 30_000,
      mirrorTimeoutMs: 30_000,
      mirrorMaxBytes: 16 * 1024 * 1024,
      maxMirrorsInFlight: 256,
      maxSocketsPerBackend: 512,
      connectRetryBudgetMs: 2_000,
      tokenDir: '/etc/modelship/router-tokens',
      maxHeld: 1000,
      payloadQueue: { events: 10_000, bytes: 64 * 1024 * 1024 },
      driftSampleRps: 200,
      logLevel: 'info',
      shutdownDelayMs: 0,
      shutdownTimeoutMs: 25_000,
    });
  });

  it('reads every override', () => {
    const c = parseRouterConfig(
      {
        MODELSHIP_ROUTES_FILE: '/etc/routes.json',
        MODELSHIP_HOST: '127.0.0.1',
        MODELSHIP_PORT: '0',
        MODELSHIP_METRICS_PORT: '9191',
        MODELSHIP_ROUTER_TIMEOUT_MS: '500',
        MODELSHIP_ROUTER_MIRROR_MAX_BYTES: '1024',
        MODELSHIP_ROUTER_MAX_MIRRORS_IN_FLIGHT: '4',
        MODELSHIP_ROUTER_MAX_SOCKETS: '8',
        MODELSHIP_ROUTER_CONNECT_RETRY_BUDGET_MS: '0',
        MODELSHIP_LOG_LEVEL: 'debug',
        MODELSHIP_POD_NAME: 'p1',
        MODELSHIP_SHUTDOWN_DELAY_MS: '100',
        MODELSHIP_ROUTER_TOKEN_DIR: '/run/tokens',
        MODELSHIP_ROUTER_MAX_HELD: '0',
      },
      'host',
    );
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      metricsPort: 9191,
      source: { kind: 'file', path: '/etc/routes.json' },
      timeoutMs: 500,
      mirrorTimeoutMs: 500,
      mirrorMaxBytes: 1024,
      maxMirrorsInFlight: 4,
      maxSocketsPerBackend: 8,
      connectRetryBudgetMs: 0,
      logLevel: 'debug',
      podName: 'p1',
      shutdownDelayMs: 100,
      tokenDir: '/run/tokens',
      maxHeld: 0,
    });
    // Stats are published through the API server only: a file source has nowhere to write them.
    expect(c.statsConfigMap).toBeUndefined();
  });

  it('turns the stats writer off with interval 0 and honours a stats ConfigMap name', () => {
    const base = { MODELSHIP_ROUTES_CONFIGMAP: 'r', MODELSHIP_NAMESPACE: 'ns' };
    expect(parseRouterConfig({ ...base, MODELSHIP_STATS_INTERVAL_MS: '0' }, 'h').statsConfigMap).toBeUndefined();
    expect(parseRouterConfig({ ...base, MODELSHIP_STATS_CONFIGMAP: 'other' }, 'h').statsConfigMap).toBe('other');
  });

  it.each([
    [{}, 'MODELSHIP_ROUTES_CONFIGMAP or MODELSHIP_ROUTES_FILE: one is required'],
    [{ MODELSHIP_ROUTES_CONFIGMAP: 'r', MODELSHIP_ROUTES_FILE: 'f' }, 'set only one'],
    [{ MODELSHIP_ROUTES_CONFIGMAP: 'r' }, 'MODELSHIP_NAMESPACE: required'],
    [
      { MODELSHIP_ROUTES_FILE: 'f', MODELSHIP_PORT: '70000' },
      'invalid MODELSHIP_PORT="70000": expected a port number 0-65535',
    ],
    [{ MODELSHIP_ROUTES_FILE: 'f', MODELSHIP_ROUTER_TIMEOUT_MS: '1.5' }, 'MODELSHIP_ROUTER_TIMEOUT_MS'],
    [
      { MODELSHIP_ROUTES_FILE: 'f', MODELSHIP_ROUTER_CONNECT_RETRY_BUDGET_MS: '-1' },
      'invalid MODELSHIP_ROUTER_CONNECT_RETRY_BUDGET_MS="-1": expected an integer between 0',
    ],
    [
      { MODELSHIP_ROUTES_FILE: 'f', MODELSHIP_LOG_LEVEL: 'loud' },
      'invalid MODELSHIP_LOG_LEVEL="loud": expected one of',
    ],
    [{ MODELSHIP_ROUTES_FILE: 'f', MODELSHIP_POD_NAME: 'a/b' }, 'MODELSHIP_POD_NAME'],
    [{ MODELSHIP_ROUTES_FILE: 'f', MODELSHIP_ROUTER_MAX_HELD: 'many' }, 'invalid MODELSHIP_ROUTER_MAX_HELD="many"'],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => parseRouterConfig(env, 'h')).toThrow(message);
  });

  describe('the payload-log queue', () => {
    const base = { MODELSHIP_ROUTES_FILE: '/etc/routes.json' };

    it('reads both bounds', () => {
      expect(
        parseRouterConfig(
          { ...base, MODELSHIP_ROUTER_PAYLOAD_QUEUE: '50', MODELSHIP_ROUTER_PAYLOAD_QUEUE_BYTES: '4096' },
          'r',
        ).payloadQueue,
      ).toEqual({ events: 50, bytes: 4096 });
    });

    it('defaults when empty', () => {
      expect(parseRouterConfig({ ...base, MODELSHIP_ROUTER_PAYLOAD_QUEUE: '' }, 'r').payloadQueue).toEqual({
        events: DEFAULT_PAYLOAD_QUEUE,
        bytes: DEFAULT_PAYLOAD_QUEUE_BYTES,
      });
    });

    it.each(['0', '-1', 'lots', '1.5'])('refuses MODELSHIP_ROUTER_PAYLOAD_QUEUE=%j, naming it', (v) => {
      expect(() => parseRouterConfig({ ...base, MODELSHIP_ROUTER_PAYLOAD_QUEUE: v }, 'r')).toThrow(
        /MODELSHIP_ROUTER_PAYLOAD_QUEUE/,
      );
    });
  });
});
