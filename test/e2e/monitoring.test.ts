/**
 * The chart's dashboard and alert rules against a REAL Prometheus (built from its Go module by
 * test/cluster/build-binaries.sh) scraping the real operator, router and model-server processes of
 * a ModelDeployment that serves load through a promoted canary and a rolled-back one, with
 * spec.monitoring on: payload logging to a real sink process, drift against each revision's first
 * rows, and accuracy from labels a client posts to the router for its own requests. Model-server
 * and router pods are found as the chart's PodMonitors find them: the pod runner lists each local
 * pod's metrics port with pod discovery's meta labels (file_sd), and the scrape configs apply the
 * rendered PodMonitors' selectors and relabelings. The rules file is loaded as users without the
 * Prometheus operator load it.
 *
 * What a user notices: the rules load, every panel of the dashboard shows data over the run (a
 * failure names each panel that stays empty), every part of every rule has data, the rolled-back
 * canary raises its alert, the sink receives the exchanges, and status.monitoring shows drift and
 * accuracy. With MODELSHIP_DASHBOARD_DATA=<file> the panels' range data
 * is written there for bench/monitoring/render.py.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

import { CustomObjectsApi } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';

import type { ModelDeployment, ModelDeploymentSpec, MonitoringSpec } from '../../operator/src/api/types.js';
import { sha256Of } from '../../server-image/test/helpers/server.js';
import { binDir, repoRoot } from '../cluster/cluster.js';
import { freePorts } from '../cluster/processes.js';
import type { PodRunner } from '../localpods/runner.js';
import { applyMd, serving, until, type ChecksContext } from './checks.js';
import { loadKubeConfig, waitFor } from './kube.js';
import type { Load } from './load.js';
import { condition, promotedFrom, readMd, routeOf } from './md.js';
import { startSink, type Sink } from '../sink/start.js';
import { Labeller, type LabelCounts } from './monitoring-labels.js';
import { dashboardQueries, ruleOperands, scrapeConfigOf, type PodMonitorLike } from './monitoring.js';
import { answeringApexUrl, startLocalSuite, stopLocalSuite, type LocalSuite } from './suite.js';

const TIMEOUT = 300_000;
const root = repoRoot();
const kc = loadKubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const chart = join(root, 'charts/modelship');
const RULES = join(chart, 'rules/modelship.rules.yaml');
const dashboard = JSON.parse(readFileSync(join(chart, 'dashboards/modelship.json'), 'utf8')) as Parameters<
  typeof dashboardQueries
>[0];
const MD = 'digits';
/** Range query resolution, and the rate window that stands for Grafana's $__rate_interval. */
const STEP_SECONDS = 1;
const RATE_INTERVAL = '10s';

let ns: string;
let stateDir: string;
let runner: PodRunner;
let prometheus: ChildProcess | undefined;
let prometheusUrl: string;
let targetsTimer: NodeJS.Timeout | undefined;
const started: Partial<LocalSuite> = {};
const loads: Load[] = [];
let sink: Sink | undefined;
let labeller: Labeller | undefined;
let labelled: LabelCounts;
/** spec.monitoring of every spec the run applies; set once the sink listens. */
let monitoring: MonitoringSpec;
const ctx = (): ChecksContext => ({ kc, custom, ns, runner });
/** The run's start and end (seconds since the epoch): the range the dashboard is checked over. */
let run: { start: number; end: number };
let rolledBack: string;
/** Where the range data goes for the picture (bench/monitoring/render.py), when asked for. */
const DATA_FILE = process.env.MODELSHIP_DASHBOARD_DATA;
/**
 * Steady load between the scenario's steps, so the picture shows each state and not only the
 * transitions; the checks need none.
 */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, DATA_FILE ? 20_000 : 0));

/** The model block for examples/models/<file>.onnx, its digest computed. */
function model(file: 'digits' | 'digits-v2' | 'digits-faulty'): ModelDeploymentSpec['model'] {
  return {
    uri: `file:///models/${file}.onnx`,
    sha256: sha256Of(join(root, 'examples/models', `${file}.onnx`)),
    name: 'digits',
  };
}

/** The chart's PodMonitors, rendered by helm with monitoring.podMonitors.enabled. */
async function renderedPodMonitors(): Promise<PodMonitorLike[]> {
  const { stdout } = await promisify(execFile)(join(binDir(), 'helm'), [
    'template',
    'ms',
    chart,
    '--show-only',
    'templates/podmonitors.yaml',
    '--set',
    'monitoring.podMonitors.enabled=true',
  ]);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as PodMonitorLike & { kind?: string })
    .filter((o) => o?.kind === 'PodMonitor');
}

/** A Prometheus API call's `data`; throws with the error Prometheus gives. */
async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`${prometheusUrl}${path}?${new URLSearchParams(params)}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.error}`);
  return body.data;
}

type Series = { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] };

/** Instant query: at the end of the run once it ended, else now. */
const instant = (query: string): Promise<Series[]> =>
  api<{ result: Series[] }>('/api/v1/query', { query, ...(run.end > 0 && { time: String(run.end) }) }).then(
    (d) => d.result,
  );

/** Range query over the run, as a panel draws it. */
const range = (query: string): Promise<Series[]> =>
  api<{ result: Series[] }>('/api/v1/query_range', {
    query,
    start: String(run.start),
    end: String(run.end),
    step: String(STEP_SECONDS),
  }).then((d) => d.result);

/**
 * Starts Prometheus: the operator as a static target, model servers and routers through the
 * PodMonitors' configs over a file_sd list refreshed every second from the pod runner, and the rules.
 */
async function startPrometheus(operatorPort: number): Promise<void> {
  const bin = join(binDir(), 'prometheus');
  if (!existsSync(bin)) throw new Error(`${bin} missing: run make cluster-build`);
  const targets = join(stateDir, 'pods.json');
  const writeTargets = (): void => {
    writeFileSync(`${targets}.tmp`, JSON.stringify(runner.scrapeTargets()));
    renameSync(`${targets}.tmp`, targets);
  };
  writeTargets();
  targetsTimer = setInterval(writeTargets, 1_000);
  const config = join(stateDir, 'prometheus.yml');
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [RULES],
      scrape_configs: [
        // As the chart's ServiceMonitor scrapes it: honorLabels keeps the gauges' namespace label.
        {
          job_name: 'modelship-operator',
          honor_labels: true,
          static_configs: [{ targets: [`127.0.0.1:${operatorPort}`] }],
        },
        ...(await renderedPodMonitors()).map((pm) => scrapeConfigOf(pm, [targets], '1s')),
      ],
    }),
  );
  const [port] = await freePorts(1);
  prometheusUrl = `http://127.0.0.1:${port}`;
  mkdirSync(join(stateDir, 'prometheus-data'), { recursive: true });
  prometheus = spawn(
    bin,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(stateDir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', openSync(join(stateDir, 'prometheus.log'), 'w')] },
  );
  await waitFor(
    'Prometheus scraping the operator',
    async () => (await instant('modelship_leader').catch(() => [])).length > 0 || undefined,
    60_000,
    250,
  );
}

beforeAll(async () => {
  ({ ns, stateDir, runner } = await startLocalSuite(kc, 'monitoring', started));
  run = { start: Math.floor(Date.now() / 1000), end: 0 };
  await startPrometheus(started.op!.port);
  run.start = Math.floor(Date.now() / 1000);
  sink = await startSink();
  // Windows of 200 rows: full within seconds of the load, and calm enough on digits' test set.
  monitoring = {
    payloadLogging: { url: `${sink.url}/events`, percent: 50 },
    drift: { windowRows: 200, referenceRows: 200 },
    accuracy: {},
  };

  const analysis = { intervalSeconds: 1, minRequests: 10, failureLimit: 2 };
  await applyMd(ctx(), MD, { model: model('digits'), replicas: 1, rollout: { analysis }, monitoring });
  const { stable } = await serving(ctx(), MD, loads);
  labeller = Labeller.start(await answeringApexUrl(runner, ns, MD), 'digits');
  await settle();
  // A good candidate, mirrored (minAgreement) and promoted step by step.
  await applyMd(ctx(), MD, {
    model: model('digits-v2'),
    replicas: 1,
    rollout: {
      steps: [
        { weight: 20, pauseSeconds: 10 },
        { weight: 50, pauseSeconds: 10 },
      ],
      analysis: { ...analysis, minAgreement: 0.8, maxErrorRate: 0.05 },
    },
    monitoring,
  });
  const promoted = await until(ctx(), MD, 'digits-v2 promoted', (m) => promotedFrom(m, routeOf(MD, stable)));
  await settle();
  // A failing candidate (40% of its answers are 500s), rolled back for its error rate.
  await applyMd(ctx(), MD, {
    model: model('digits-faulty'),
    replicas: 1,
    rollout: { steps: [{ weight: 20, pauseSeconds: 60 }], analysis: { ...analysis, maxErrorRate: 0.05 } },
    monitoring,
  });
  const md = await until(
    ctx(),
    MD,
    'digits-faulty rolled back',
    (m) => m.status?.canary?.phase === 'RolledBack' && m.status.stable?.revision === promoted.status!.stable!.revision,
  );
  expect(condition(md, 'Stalled')?.status).toBe('True');
  rolledBack = routeOf(MD, md.status!.canary!.revision);
  await settle();
  // The run ends once Prometheus has scraped the rollback and its rules raised the alert on it.
  await waitFor(
    'the rolled-back canary alerting in Prometheus',
    async () => {
      run.end = Math.floor(Date.now() / 1000);
      const alerts = await instant('ALERTS{alertname="ModelshipCanaryRolledBack", alertstate="firing"}').catch(
        () => [],
      );
      return alerts.length > 0 || undefined;
    },
    60_000,
    500,
  );
  labelled = await labeller.stop();
  labeller = undefined;
}, 600_000);

afterAll(async () => {
  if (targetsTimer) clearInterval(targetsTimer);
  await Promise.all(loads.splice(0).map((l) => l.stop()));
  await labeller?.stop();
  await sink?.stop();
  prometheus?.kill();
  await stopLocalSuite(kc, started);
}, TIMEOUT);

describe('the chart dashboard and alerts on a real Prometheus', () => {
  it(
    'loads every rule group without error',
    async () => {
      const { groups } = await api<{
        groups: { name: string; file: string; rules: { name: string; health: string; lastError?: string }[] }[];
      }>('/api/v1/rules');
      const expected = (parse(readFileSync(RULES, 'utf8')) as { groups: { name: string }[] }).groups;
      expect(groups.map((g) => g.name).sort()).toEqual(expected.map((g) => g.name).sort());
      const unhealthy = groups.flatMap((g) =>
        g.rules.filter((r) => r.health !== 'ok' || r.lastError).map((r) => `${g.name}/${r.name}: ${r.lastError}`),
      );
      expect(unhealthy).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'scrapes the operator, the router and the model servers through the PodMonitors',
    async () => {
      const up = await instant('max by (job) (up)');
      expect(Object.fromEntries(up.map((s) => [s.metric.job, s.value![1]]))).toEqual({
        'modelship-operator': '1',
        'ms-modelship-servers': '1',
        'ms-modelship-routers': '1',
      });
      // The relabelings give model servers the revision label the router and the operator use.
      const over = `${run.end - run.start}s`;
      const ready = `max_over_time(modelship_ready{namespace="${ns}", modeldeployment="${MD}"}[${over}])`;
      const revisions = (await instant(`max by (revision) (${ready})`)).map((s) => s.metric.revision).sort();
      // The first and the promoted revision served long enough to be scraped (the rolled-back one may
      // be gone before its first scrape on a loaded machine), under the same names the router uses.
      expect(revisions.length).toBeGreaterThanOrEqual(2);
      const routed = `max_over_time(modelship_router_requests_total{namespace="${ns}", modeldeployment="${MD}"}[${over}])`;
      const routerRevisions = new Set((await instant(`max by (revision) (${routed})`)).map((s) => s.metric.revision));
      expect(revisions.filter((r) => !routerRevisions.has(r))).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'shows data in every panel of the dashboard over the run',
    async () => {
      const queries = dashboardQueries(dashboard, {
        datasource: 'prometheus',
        namespace: ns,
        modeldeployment: MD,
        __rate_interval: RATE_INTERVAL,
      });
      expect(queries.length).toBeGreaterThan(30);
      const data: { panel: string; refId: string; legend: string; expr: string; series: Series[] }[] = [];
      for (const q of queries) data.push({ ...q, series: await range(q.expr) });
      if (DATA_FILE) {
        mkdirSync(dirname(DATA_FILE), { recursive: true });
        writeFileSync(DATA_FILE, JSON.stringify({ namespace: ns, modeldeployment: MD, run, step: STEP_SECONDS, data }));
      }
      const empty = data.filter((d) => d.series.length === 0).map((d) => `${d.panel} [${d.refId}]: ${d.expr}`);
      expect(empty).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'has data for every part of every rule at the end of the run',
    async () => {
      const { groups } = parse(readFileSync(RULES, 'utf8')) as {
        groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
      };
      const missing: string[] = [];
      for (const rule of groups.flatMap((g) => g.rules)) {
        for (const part of ruleOperands(rule.expr)) {
          if ((await instant(part)).length === 0) missing.push(`${rule.alert ?? rule.record}: ${part}`);
        }
      }
      expect(missing).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'raises ModelshipCanaryRolledBack for the rolled-back revision, and nothing about the operator or missing replicas',
    async () => {
      const alerts = await instant('ALERTS');
      const labels = alerts.map((a) => ({ ...a.metric }));
      expect(labels).toContainEqual(
        expect.objectContaining({
          alertname: 'ModelshipCanaryRolledBack',
          alertstate: 'firing',
          namespace: ns,
          modeldeployment: MD,
          revision: rolledBack,
        }),
      );
      // The stalled condition is pending: it fires only if nobody changes the spec for 5 minutes.
      expect(labels).toContainEqual(
        expect.objectContaining({ alertname: 'ModelshipModelDeploymentStalled', alertstate: 'pending' }),
      );
      expect(labels.filter((l) => /Operator|NoReadyReplicas/.test(l.alertname!))).toEqual([]);
    },
    TIMEOUT,
  );
});

describe('spec.monitoring over the run', () => {
  it(
    'sends the sampled exchanges to the payload sink',
    async () => {
      expect(await sink!.count()).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it(
    "joins the client's labels and shows drift and accuracy per revision in status, with the DataDrift condition",
    async () => {
      expect(labelled.firstRefusal).toBeUndefined();
      expect(labelled.matched).toBeGreaterThan(0);
      const md = await readMd<ModelDeployment>(custom, ns, MD);
      const stable = md.status!.monitoring!.find((m) => m.revision === md.status!.stable!.revision);
      // digits-v2 is right on nearly every test-set digit the client labelled.
      expect(stable).toMatchObject({ labels: expect.any(Number), accuracy: expect.any(Number) });
      expect(stable!.labels).toBeGreaterThan(0);
      expect(stable!.accuracy).toBeGreaterThan(0.8);
      expect(stable!.inputPsi).toEqual(expect.any(Number));
      expect(condition(md, 'DataDrift')?.reason).toMatch(/^(NoDrift|DriftDetected)$/);
    },
    TIMEOUT,
  );
});

describe('the parts of a rule that must each have data', () => {
  it('are the operands of its top-level set operators and comparisons, thresholds left out', () => {
    expect(ruleOperands('sum by (a) (rate(x[5m])) > 0\nand on (a) max by (a) (y{role="stable"}) == 0')).toEqual([
      'sum by (a) (rate(x[5m]))',
      'max by (a) (y{role="stable"})',
    ]);
    expect(
      ruleOperands('(\n  r1h > 14.4 * (1 - 0.999)\n  and r5m > 14.4 * (1 - 0.999)\n)\nor\n(r6h > 6 and r30m > 6)'),
    ).toEqual(['r1h', 'r5m', 'r6h', 'r30m']);
    // A ratio compared with a threshold is checked whole; a fallback of `or` is checked on both sides.
    expect(ruleOperands('(sum(rate(e[10m])) or vector(0)) / sum(rate(t[10m])) > 0.5')).toEqual([
      '(sum(rate(e[10m])) or vector(0)) / sum(rate(t[10m]))',
    ]);
    expect(ruleOperands('(sum(leader) or vector(0)) == 0')).toEqual(['sum(leader)', 'vector(0)']);
    // Names that contain "or" and matchers with =~ or != are not operators.
    expect(ruleOperands('errors_total{outcome=~"5xx|timeout", kind!="mirror"}')).toEqual([
      'errors_total{outcome=~"5xx|timeout", kind!="mirror"}',
    ]);
  });
});
