import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { findCrdPath } from './api/schema.js';
import { DEFAULT_SERVER_IMAGE, parseConfig } from './config.js';

const host = { hostname: 'node-1', pid: 42 };

describe('parseConfig', () => {
  it('has safe defaults', () => {
    expect(parseConfig([], {}, host)).toEqual({
      kubeconfig: undefined,
      namespace: undefined,
      workers: 4,
      serverImage: DEFAULT_SERVER_IMAGE,
      routerImage: undefined,
      nodeCacheUrl: undefined,
      metricsHost: '0.0.0.0',
      metricsPort: 8080,
      leaderElect: true,
      leaseNamespace: 'default',
      leaseName: 'modelship-operator',
      identity: 'node-1-42',
      resyncSeconds: 300,
      logLevel: 'info',
    });
  });

  it('takes flags over env over defaults', () => {
    const cfg = parseConfig(
      ['--workers', '8', '--leader-elect=false', '--namespace', 'ml'],
      {
        MODELSHIP_RECONCILE_WORKERS: '2',
        MODELSHIP_METRICS_PORT: '9000',
        MODELSHIP_POD_NAME: 'op-abc',
        MODELSHIP_POD_NAMESPACE: 'modelship-system',
      },
      host,
    );
    expect(cfg).toMatchObject({
      workers: 8,
      metricsPort: 9000,
      leaderElect: false,
      namespace: 'ml',
      identity: 'op-abc',
      leaseNamespace: 'modelship-system',
    });
  });

  it("reads its reconcile workers, kubeconfig and identity under names of its own, not the servers'", () => {
    const cfg = parseConfig(
      [],
      { MODELSHIP_RECONCILE_WORKERS: '6', MODELSHIP_WORKERS: '9', MODELSHIP_KUBECONFIG: '/etc/kubeconfig' },
      host,
    );
    expect(cfg).toMatchObject({ workers: 6, kubeconfig: '/etc/kubeconfig' });
    expect(parseConfig([], { KUBECONFIG_FILE: '/k', POD_NAME: 'p', POD_NAMESPACE: 'ns' }, host)).toMatchObject({
      kubeconfig: undefined,
      identity: 'node-1-42',
      leaseNamespace: 'default',
    });
  });

  it.each([
    [['--workers', '0'], /--workers="0": expected an integer between 1 and 64/],
    [['--metrics-port', 'http'], /--metrics-port="http": expected a port number/],
    [['--leader-elect', 'yes'], /--leader-elect="yes": expected true or false/],
    [['--log-level', 'loud'], /--log-level="loud"/],
    [['--no-such-flag', 'x'], /parse flags: .*no-such-flag/],
    [['--node-cache-url', 'modelship-cache:8090'], /--node-cache-url="modelship-cache:8090": expected an http/],
  ])('rejects %j naming the flag', (argv, message) => {
    expect(() => parseConfig(argv, {}, host)).toThrow(message);
  });

  it('takes the node cache URL from --node-cache-url or MODELSHIP_NODE_CACHE_URL', () => {
    const url = 'http://modelship-cache.modelship-system.svc:8090';
    expect(parseConfig(['--node-cache-url', url], {}, host).nodeCacheUrl).toBe(url);
    expect(parseConfig([], { MODELSHIP_NODE_CACHE_URL: url }, host).nodeCacheUrl).toBe(url);
    expect(() => parseConfig([], { MODELSHIP_NODE_CACHE_URL: 'ftp://cache' }, host)).toThrow(
      /MODELSHIP_NODE_CACHE_URL="ftp:\/\/cache"/,
    );
  });

  // There is one image; `make image` tags it as the chart's default, and the operator's default
  // must name the same, or model pods started outside the chart pull an image nobody built.
  it("defaults the server image to the Helm chart's default image", () => {
    const chart = join(dirname(findCrdPath()), '..', 'charts', 'modelship');
    const { appVersion } = parse(readFileSync(join(chart, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const { image } = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as {
      image: { repository: string; tag: string };
    };
    expect(DEFAULT_SERVER_IMAGE).toBe(`${image.repository}:${image.tag || appVersion}`);
  });
});
