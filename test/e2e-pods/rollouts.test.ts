/**
 * Rollouts on real pods under steady load through the apex Service's ClusterIP: the kubelet starts
 * and stops the processes, kube-proxy routes, the router pods split. A good canary is promoted with
 * zero failed requests; a bad one is rolled back automatically; a rolling update of the model pods
 * (the kubelet's SIGTERM, endpoints removed) loses nothing at the default number of serving
 * processes, through the router or straight at the revision's Service. With spec.auth the canary
 * still passes its contract gate (the router reads the revisions' metadata with the mounted token)
 * and clients with the token see only 200s.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';

import type { ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { repoRoot } from '../cluster/cluster.js';
import { createTestNamespace, deleteNamespace, loadKubeConfig, waitFor } from '../e2e/kube.js';
import { Load, summarize, type Outcome } from '../e2e/load.js';

import { gitopsHealth, waitForHealth } from '../e2e/gitops.js';
import { condition, percentOf, promotedFrom, routeOf } from '../e2e/md.js';
import { Mds, installOnce, kubectl, model, serviceUrl, stopPortForwards } from './pods.js';

const TIMEOUT = 600_000;
const kc = loadKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const stateDir = join(repoRoot(), '.state', 'e2e-pods');
const INTERVAL = 2;

let ns: string;
let mds: Mds;
const running = new Set<Load>();

function measured(line: string): void {
  mkdirSync(stateDir, { recursive: true });
  appendFileSync(join(stateDir, 'measured.log'), `${new Date().toISOString()} rollouts: ${line}\n`);
}

function startLoad(url: string, concurrency = 4, headers?: Record<string, string>): Load {
  const load = Load.start({ url, model: 'digits', concurrency, headers });
  running.add(load);
  return load;
}

/** Waits until `n` requests in a row, sent after this call, came back 200 from route. */
async function allNewRequestsOn(load: Load, route: string, n = 100): Promise<void> {
  const since = Date.now();
  await waitFor(
    `${n} requests in a row answered by ${route}`,
    () => {
      let streak = 0;
      for (const o of load.since(since).sort((a, b) => a.at - b.at))
        streak = o.status === 200 && o.revision === route ? streak + 1 : 0;
      return streak >= n;
    },
    120_000,
    100,
  );
}

/** Failed outcomes, briefly, for an assertion message. */
function failures(outcomes: readonly Outcome[]): string[] {
  return outcomes
    .filter((o) => o.status !== 200 || o.correct === false)
    .slice(0, 10)
    .map((o) => `${o.status} ${o.revision ?? '-'} ${o.error ?? 'wrong answer'}`);
}

/**
 * Small CPU requests: three ModelDeployments, each with a canary as large as its stable, share the
 * one 2-CPU node, and the scheduler counts requests, not use.
 */
const server: ModelDeploymentSpec['server'] = {
  resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
};
const stableSpec = (): ModelDeploymentSpec => ({
  model: model('digits'),
  replicas: 2,
  server,
  rollout: { analysis: { intervalSeconds: INTERVAL } },
});

beforeAll(async () => {
  await installOnce();
  ns = await createTestNamespace(kc, 'rollouts');
  mds = new Mds(kc, ns);
  await Promise.all(['good', 'bad', 'rolling'].map((name) => mds.apply(name, stableSpec())));
}, TIMEOUT);

afterEach(async () => {
  await Promise.all([...running].map((l) => l.stop()));
  running.clear();
});

afterAll(async () => {
  stopPortForwards();
  if (ns) await deleteNamespace(kc, ns);
}, TIMEOUT);

describe('rollouts on real pods', () => {
  it(
    'promotes digits-v2 step by step with zero failed requests under steady load',
    async () => {
      const previous = routeOf('good', await mds.readyStable('good'));
      const load = startLoad(await serviceUrl(kc, ns, 'good'));
      await mds.apply('good', {
        model: model('digits-v2'),
        replicas: 2,
        server,
        rollout: {
          steps: [
            { weight: 10, pauseSeconds: 5 },
            { weight: 50, pauseSeconds: 5 },
          ],
          analysis: { intervalSeconds: INTERVAL, minRequests: 10, maxErrorRate: 0.01, failureLimit: 2 },
        },
      });
      const md = await mds.waitFor('good', 'digits-v2 promoted to 100%', (m) => {
        return promotedFrom(m, previous) && m;
      });
      const current = routeOf('good', md.status!.stable!.revision);
      await allNewRequestsOn(load, current);
      const outcomes = await load.stop();
      const s = summarize(outcomes);
      measured(
        `promotion on real pods: ${s.requests} requests, ${JSON.stringify(s.byRevision)}, statuses ${JSON.stringify(s.byStatus)}`,
      );
      expect({ failed: s.failed, wrong: s.wrong, sample: failures(outcomes) }).toEqual({
        failed: 0,
        wrong: 0,
        sample: [],
      });
      expect(s.byRevision[previous]).toBeGreaterThan(0);
      expect(s.byRevision[current]).toBeGreaterThan(0);
      expect(condition(md, 'Ready')?.status).toBe('True');
      await waitForHealth('good, promoted on real pods', () => mds.get('good'), 'Healthy', 'Current');
    },
    TIMEOUT,
  );

  it(
    'rolls a disagreeing candidate (digits-bad) back automatically, the stable serving throughout',
    async () => {
      const stable = routeOf('bad', await mds.readyStable('bad'));
      const load = startLoad(await serviceUrl(kc, ns, 'bad'));
      await mds.apply('bad', {
        model: model('digits-bad'),
        replicas: 2,
        server,
        rollout: {
          steps: [{ weight: 20, pauseSeconds: 60 }],
          analysis: { intervalSeconds: INTERVAL, minRequests: 10, failureLimit: 2, minAgreement: 0.9 },
        },
      });
      const md = await mds.waitFor(
        'bad',
        'digits-bad rolled back',
        (m) => m.status?.canary?.phase === 'RolledBack' && m,
      );
      await allNewRequestsOn(load, stable);
      const outcomes = await load.stop();
      const candidate = routeOf('bad', md.status!.canary!.revision);
      const s = summarize(outcomes);
      measured(
        `automatic rollback on real pods: ${md.status?.canary?.reason}: ${md.status?.canary?.message} | client saw ${JSON.stringify(s)}`,
      );
      expect(md.status?.canary?.reason).toMatch(/^(AgreementTooLow|AnalysisFailed)$/);
      expect(md.status?.canary?.weight).toBe(0);
      expect(percentOf(md, stable)).toBe(100);
      expect(condition(md, 'Ready')?.status).toBe('True');
      expect(condition(md, 'Stalled')).toMatchObject({ status: 'True', reason: md.status?.canary?.reason });
      // What Argo CD (the chart's health check) and Flux (kstatus) show: a failed release, with its reason.
      expect(await gitopsHealth([md])).toEqual([
        {
          argocd: { status: 'Degraded', message: expect.stringContaining(md.status!.canary!.reason!) },
          kstatus: expect.objectContaining({ status: 'Failed' }),
        },
      ]);
      // No request failed; wrong answers came only from the candidate, inside its analysis window.
      expect(s.failed).toBe(0);
      expect(outcomes.filter((o) => o.correct === false && o.revision !== candidate)).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'promotes a canary of a ModelDeployment with spec.auth: clients with the token get only 200s, both revisions serve',
    async () => {
      const token = randomBytes(24).toString('hex');
      await core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: 'digits-token' }, stringData: { token: `${token}\n` } },
      });
      const auth = { tokenSecretRef: { name: 'digits-token' } };
      await mds.apply('auth', { ...stableSpec(), auth });
      const previous = routeOf('auth', await mds.readyStable('auth'));
      const url = await serviceUrl(kc, ns, 'auth');
      const load = startLoad(url, 4, { authorization: `Bearer ${token}` });
      await waitFor('load flowing', () => load.outcomes.length >= 20, 60_000, 100);
      // The apex Service still asks every client for a token: the router lends none.
      const anonymous = await fetch(`${url}/v2/models/digits/infer`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(anonymous.status).toBe(401);

      await mds.apply('auth', {
        model: model('digits-v2'),
        replicas: 2,
        server,
        auth,
        rollout: {
          steps: [{ weight: 50, pauseSeconds: 5 }],
          analysis: { intervalSeconds: INTERVAL, minRequests: 10, maxErrorRate: 0.01, failureLimit: 2 },
        },
      });
      // Before the fix the gate never read the candidate's metadata (401): status said ContractUnknown until this timed
      // out.
      const md = await mds.waitFor('auth', 'digits-v2 promoted to 100%', (m) => {
        return promotedFrom(m, previous) && m;
      });
      const current = routeOf('auth', md.status!.stable!.revision);
      await allNewRequestsOn(load, current);
      const outcomes = await load.stop();
      const s = summarize(outcomes);
      measured(
        `auth canary promotion on real pods: ${s.requests} requests, ${JSON.stringify(s.byRevision)}, statuses ${JSON.stringify(s.byStatus)}`,
      );
      expect({ failed: s.failed, wrong: s.wrong, sample: failures(outcomes) }).toEqual({
        failed: 0,
        wrong: 0,
        sample: [],
      });
      expect(s.byRevision[previous]).toBeGreaterThan(0);
      expect(s.byRevision[current]).toBeGreaterThan(0);
      expect(md.status?.history?.at(-1)).toMatchObject({ revision: md.status!.stable!.revision, outcome: 'Promoted' });
      expect(condition(md, 'Ready')?.status).toBe('True');
    },
    TIMEOUT,
  );

  it(
    'loses no request while the kubelet replaces every model pod in a rolling update',
    async () => {
      const route = routeOf('rolling', await mds.readyStable('rolling'));
      const before = (
        await core.listNamespacedPod({
          namespace: ns,
          labelSelector: `modelship.dev/deployment=rolling,app.kubernetes.io/name=modelship-server`,
        })
      ).items.map((p) => p.metadata!.name!);
      expect(before.length).toBe(2);
      // The default (one serving process per usable CPU) on this 2-CPU node is a group of two: the
      // case where processes must stop together.
      const listening = (await kubectl(['logs', before[0], '-n', ns]))
        .split('\n')
        .find((l) => l.includes('"msg":"listening"'));
      expect(JSON.parse(listening ?? '{}')).toEqual(expect.objectContaining({ processes: 2 }));
      // Through the router (apex Service), and straight at the revision's own Service, where no
      // router retries a refused connection: what the servers' drain alone loses, a client sees.
      const load = startLoad(await serviceUrl(kc, ns, 'rolling'));
      const direct = startLoad(await serviceUrl(kc, ns, route));
      await waitFor('load flowing', () => load.outcomes.length >= 50 && direct.outcomes.length >= 50, 30_000, 100);

      const started = Date.now();
      await kubectl(['rollout', 'restart', `deployment/${route}`, '-n', ns]);
      await kubectl(['rollout', 'status', `deployment/${route}`, '-n', ns, '--timeout=300s'], 320_000);
      await waitFor(
        'the old model pods gone',
        async () => {
          const pods = await core.listNamespacedPod({
            namespace: ns,
            labelSelector: `modelship.dev/deployment=rolling,app.kubernetes.io/name=modelship-server`,
          });
          return pods.items.every((p) => !before.includes(p.metadata!.name!));
        },
        120_000,
        500,
      );
      const rolledIn = Date.now() - started;
      // A few more seconds on the new pods only.
      const after = load.outcomes.length;
      await waitFor('200 more requests on the new pods', () => load.outcomes.length >= after + 200, 60_000, 100);
      const outcomes = await load.stop();
      const directOutcomes = await direct.stop();
      const s = summarize(outcomes);
      const d = summarize(directOutcomes);
      const deployment = await apps.readNamespacedDeployment({ namespace: ns, name: route });
      measured(
        `rolling update of ${route} (${deployment.spec?.replicas} pods) in ${rolledIn} ms under load: apex ${JSON.stringify(s)}; revision Service ${JSON.stringify(d)}`,
      );
      expect({ failed: s.failed, wrong: s.wrong, sample: failures(outcomes) }).toEqual({
        failed: 0,
        wrong: 0,
        sample: [],
      });
      expect({ failed: d.failed, wrong: d.wrong, sample: failures(directOutcomes) }).toEqual({
        failed: 0,
        wrong: 0,
        sample: [],
      });
    },
    TIMEOUT,
  );
});
