/**
 * Metric checks (spec.rollout.analysis.metrics) end to end against a REAL Prometheus (built from its
 * Go module by test/cluster/build-binaries.sh), started here on loopback and scraping, every second,
 * a small exporter this test serves: the team's business figure, which the test sets. The operator
 * (a host process) queries that Prometheus at each analysis check of canaries served by local pods
 * under steady load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { CustomObjectsApi } from '@kubernetes/client-node';

import type { MetricSpec, ModelDeployment, ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { binDir } from '../cluster/cluster.js';
import type { PodRunner } from '../localpods/runner.js';
import { applyMd, digits, rolledBackAt, serving, until, type ChecksContext } from './checks.js';
import { loadKubeConfig, waitFor } from './kube.js';
import type { Load } from './load.js';
import { readMd } from './md.js';
import { startLocalSuite, stopLocalSuite, type LocalSuite } from './suite.js';

const TIMEOUT = 240_000;
const kc = loadKubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);

/** The figure the exporter publishes as shop_conversion_rate, per ModelDeployment label. */
const conversion: Record<string, number> = {};
let exporter: Server;
let prometheus: ChildProcess;
let prometheusUrl: string;
let ns: string;
let stateDir: string;
let runner: PodRunner;
const started: Partial<LocalSuite> = {};
const ctx = (): ChecksContext => ({ kc, custom, ns, runner });
const loads: Load[] = [];

/** A loopback port nothing listens on (one just freed). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Starts the exporter and a Prometheus scraping it every second; resolves once Prometheus has a sample. */
async function startPrometheus(dir: string): Promise<void> {
  exporter = createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(
      '# TYPE shop_conversion_rate gauge\n' +
        Object.entries(conversion)
          .map(([md, v]) => `shop_conversion_rate{md="${md}"} ${v}\n`)
          .join(''),
    );
  });
  await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', resolve));
  const target = `127.0.0.1:${(exporter.address() as AddressInfo).port}`;
  const bin = join(binDir(), 'prometheus');
  if (!existsSync(bin)) throw new Error(`${bin} missing: run make cluster-build`);
  mkdirSync(join(dir, 'prometheus-data'), { recursive: true });
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'shop', static_configs: [{ targets: [target] }] }],
    }),
  );
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    bin,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  conversion.warmup = 1;
  await waitFor(
    'Prometheus holding a scraped sample',
    async () => {
      const res = await fetch(`${prometheusUrl}/api/v1/query?query=shop_conversion_rate`).catch(() => undefined);
      const body = res && ((await res.json()) as { data?: { result?: unknown[] } });
      return (body?.data?.result?.length ?? 0) > 0 || undefined;
    },
    60_000,
    250,
  );
}

/** The conversion rate of ModelDeployment `md`, at least 0.5. */
const conversionOf = (md: string, query = `shop_conversion_rate{md="${md}"}`): MetricSpec => ({
  name: 'conversion',
  prometheus: { address: prometheusUrl, query },
  thresholdRange: { min: 0.5 },
});

/** digits-v2 as a candidate: one step at 50% for `pauseSeconds`, checked every second. */
function candidate(pauseSeconds: number, metric: MetricSpec): ModelDeploymentSpec {
  return {
    model: digits('digits-v2'),
    replicas: 1,
    rollout: {
      steps: [{ weight: 50, pauseSeconds }],
      analysis: { intervalSeconds: 1, minRequests: 10, failureLimit: 2, metrics: [metric] },
    },
  };
}

beforeAll(async () => {
  ({ ns, stateDir, runner } = await startLocalSuite(kc, 'metrics', started));
  await startPrometheus(stateDir);
  const stable: ModelDeploymentSpec = {
    model: digits('digits'),
    replicas: 1,
    rollout: { analysis: { intervalSeconds: 1 } },
  };
  await Promise.all(['shop', 'quiet'].map((name) => applyMd(ctx(), name, stable)));
}, TIMEOUT);

afterEach(async () => {
  await Promise.all(loads.splice(0).map((l) => l.stop()));
});

afterAll(async () => {
  await stopLocalSuite(kc, started);
  prometheus?.kill();
  await new Promise((resolve) => (exporter ? exporter.close(resolve) : resolve(undefined)));
}, TIMEOUT);

describe('metric checks against a real Prometheus', () => {
  it(
    'a query that falls below its range rolls a live canary back at failureLimit',
    async () => {
      conversion.shop = 0.9;
      const { stable, load } = await serving(ctx(), 'shop', loads);
      await applyMd(ctx(), 'shop', candidate(600, conversionOf('shop')));
      const live = await until(
        ctx(),
        'shop',
        'a passed check with the metric in range',
        (m) => m.status?.canary?.lastResult === 'Passed' && m.status?.canary?.phase === 'Progressing',
      );
      expect(live.status!.canary!.analysisMessage).toContain('metric conversion 0.9');

      conversion.shop = 0.1;
      await rolledBackAt(ctx(), 'shop', {
        reason: 'MetricOutOfRange',
        message: 'metric conversion 0.1 < min 0.5',
        stable,
        load,
      });
    },
    TIMEOUT,
  );

  it(
    'a query without data is inconclusive, never a pass: the step holds past its pause',
    async () => {
      const { stable } = await serving(ctx(), 'quiet', loads);
      await applyMd(ctx(), 'quiet', candidate(2, conversionOf('quiet', 'shop_conversion_rate{md="nobody"}')));
      await until(ctx(), 'quiet', 'live at 50%', (m) => m.status?.canary?.phase === 'Progressing');
      // Well past the 2 s pause, with traffic enough for every other limit: still held, for no data.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      const md = await readMd<ModelDeployment>(custom, ns, 'quiet');
      expect(md.status!.stable!.revision).toBe(stable);
      expect(md.status!.canary).toMatchObject({ phase: 'Progressing', lastResult: 'Inconclusive', failures: 0 });
      expect(md.status!.canary!.reason).toBe('InsufficientTraffic');
      expect(md.status!.canary!.analysisMessage).toMatch(/^metric conversion: no data \(analysis: /);
      expect(md.status!.canary!.inconclusiveSince).toBeDefined();
    },
    TIMEOUT,
  );
});
