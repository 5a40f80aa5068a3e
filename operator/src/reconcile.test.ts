import { mdFixture, observedDeployment, SHA_B } from '../test/fixtures.js';
import { formatModelFailure } from '../../contract/model-source.js';
import type {
  ModelDeployment,
  ModelDeploymentStatus,
  RevisionScaleStatus,
  RolloutSpec,
  WebhookSpec,
} from './api/types.js';
import type { WebhookPayload, WebhookResult } from './rollout/webhooks.js';
import { validateModelDeployment } from './api/validate.js';
import type { KubeObject as DesiredObject } from './desired/types.js';
import { Applier, StatusWriter } from './kube/apply.js';
import type { Caches } from './kube/caches.js';
import { KubeApiError } from '../../common/kubeapi.js';
import type { KubeApi, KubeObject, KubeRequest } from './kube/client.js';
import { EventRecorder } from './kube/events.js';
import {
  MAX_READINGS,
  planEvents,
  reconcile,
  reconcileEvents,
  recordReading,
  scaleEvents,
  transitionEvents,
  type ReconcileDeps,
} from './reconcile.js';
import { emptyTraffic, type RouterStatsDocument } from '../../contract/stats.js';
import { MONITORING_REFRESH_SECONDS } from './status/monitoring.js';
import { ACTION_ANNOTATION } from './rollout/canary-action.js';
import type { RolloutPlan } from './rollout/plan.js';
import { revisionOf } from './rollout/revision.js';

const cond = (type: string, status: 'True' | 'False', reason = 'R', message = 'm') => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-01-01T00:00:00Z',
});
const st = (
  ready: 'True' | 'False',
  stalled: 'True' | 'False',
  stalledReason = 'NoProblems',
  revision = 'abc',
): ModelDeploymentStatus => ({
  conditions: [
    cond('Ready', ready, 'Available', `revision ${revision} serves`),
    cond('Stalled', stalled, stalledReason, `why ${stalledReason}`),
  ],
  stable: { revision, model: { uri: 'file:///m', sha256: 'x' }, readyReplicas: 1 },
});

describe('transitionEvents', () => {
  it.each([
    ['first Ready', undefined, st('True', 'False'), ['Normal RevisionReady']],
    ['still Ready: nothing', st('True', 'False'), st('True', 'False'), []],
    [
      'Ready on a new revision',
      st('True', 'False'),
      st('True', 'False', 'NoProblems', 'def'),
      ['Normal RevisionReady'],
    ],
    ['becomes Stalled', st('False', 'False'), st('False', 'True', 'ImagePullFailed'), ['Warning ImagePullFailed']],
    [
      'stays Stalled for the same reason: nothing',
      st('False', 'True', 'CrashLoop'),
      st('False', 'True', 'CrashLoop'),
      [],
    ],
    [
      'Stalled for a new reason',
      st('False', 'True', 'CrashLoop'),
      st('False', 'True', 'DigestMismatch'),
      ['Warning DigestMismatch'],
    ],
    ['not Ready, not Stalled: nothing', undefined, st('False', 'False'), []],
  ])('%s', (_name, before, after, expected) => {
    expect(transitionEvents(before, after).map((e) => `${e.type} ${e.reason}`)).toEqual(expected);
  });
});

describe('planEvents', () => {
  const base = { transition: undefined } as unknown as RolloutPlan;
  const promoted = {
    outcome: 'Promoted',
    revision: 'b',
    previous: 'a',
    reason: 'Promoted',
    message: 'candidate b takes 100%',
  } as const;
  it.each<[string, Partial<RolloutPlan>, string[]]>([
    ['nothing happened', {}, []],
    [
      'a step started',
      { canaryTransition: { to: 'Progressing', step: 0, reason: 'StepStarted', message: 'step 1/2' } },
      ['Normal StepStarted'],
    ],
    [
      'promoted: one Event, not two',
      { transition: promoted, canaryTransition: { to: 'Promoted', step: 1, reason: 'Promoted', message: 'passed' } },
      ['Normal Promoted'],
    ],
    [
      'rolled back: a Warning with the reason',
      {
        transition: {
          outcome: 'RolledBack',
          revision: 'b',
          previous: 'a',
          reason: 'ErrorRateExceeded',
          message: 'error rate 25% > 1%',
        },
        canaryTransition: {
          from: 'Progressing',
          to: 'RolledBack',
          step: 0,
          reason: 'ErrorRateExceeded',
          message: 'error rate 25% > 1%',
        },
      },
      ['Warning ErrorRateExceeded'],
    ],
    ['an action handled', { actionMessage: 'candidate b promoted by action promote@1' }, ['Normal ActionHandled']],
    [
      'an action refused',
      { actionMessage: 'action promote@1 refused: candidate b is not available', actionRefused: true },
      ['Warning ActionRefused'],
    ],
  ])('%s', (_name, plan, expected) => {
    expect(planEvents({ ...base, ...plan } as RolloutPlan).map((e) => `${e.type} ${e.reason}`)).toEqual(expected);
  });
});

describe('reconcileEvents: one Event per transition', () => {
  const rolledBack = {
    transition: {
      outcome: 'RolledBack',
      revision: 'b',
      previous: 'abc',
      reason: 'ManualAbort',
      message: 'b rolled back',
    },
    canaryTransition: {
      from: 'Progressing',
      to: 'RolledBack',
      step: 0,
      reason: 'ManualAbort',
      message: 'b rolled back',
    },
    actionMessage: 'b rolled back',
  } as unknown as RolloutPlan;
  const promoted = {
    transition: { outcome: 'Promoted', revision: 'def', previous: 'abc', reason: 'Promoted', message: 'def promoted' },
  } as unknown as RolloutPlan;
  it.each<[string, RolloutPlan, ModelDeploymentStatus, ModelDeploymentStatus, string[]]>([
    [
      'a rollback: the action, and the Stalled Warning alone',
      rolledBack,
      st('True', 'False'),
      st('True', 'True', 'ManualAbort'),
      ['Normal ActionHandled: b rolled back', 'Warning ManualAbort: why ManualAbort'],
    ],
    [
      'a promotion: the plan says it, not RevisionReady again',
      promoted,
      st('True', 'False'),
      st('True', 'False', 'NoProblems', 'def'),
      ['Normal Promoted: def promoted'],
    ],
    [
      'Ready for the first time after a replacement: both',
      promoted,
      st('False', 'False'),
      st('True', 'False', 'NoProblems', 'def'),
      ['Normal Promoted: def promoted', 'Normal RevisionReady: revision def serves'],
    ],
  ])('%s', (_name, decided, before, after, expected) => {
    expect(reconcileEvents(decided, before, after).map((e) => `${e.type} ${e.reason}: ${e.note}`)).toEqual(expected);
  });
});

const T0 = Date.parse('2026-11-21T06:00:00.000Z');
const KEY = 'ml/digits';

/**
 * The API server as reconcile() reaches it: every request recorded, applies answered with what was
 * sent, `fail` deciding which requests are refused. The shell's real Applier and EventRecorder run
 * on it, so what the test reads is what the cluster would have been told.
 */
class FakeApi implements KubeApi {
  readonly requests: KubeRequest[] = [];
  fail: (req: KubeRequest) => KubeApiError | undefined = () => undefined;
  /** The ModelDeployment's resourceVersion, which each status write moves on. */
  resourceVersion = 1;

  async request<T>(req: KubeRequest): Promise<T> {
    this.requests.push(req);
    const refused = this.fail(req);
    if (refused) throw refused;
    if (req.method !== 'PATCH') return {} as T;
    if (!req.path.endsWith('/status')) return req.body as T;
    const body = req.body as KubeObject;
    return { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.resourceVersion) } } as T;
  }

  async watch(): Promise<void> {
    throw new Error('reconcile() reads caches, never watches');
  }

  /** Objects applied (server-side apply PATCHes, not status), as `Kind/name`. */
  applied(): string[] {
    return this.bodies('application/apply-patch+yaml', false).map((o) => `${o.kind}/${o.metadata.name}`);
  }

  /** The last status written through the status subresource, if any. */
  status(): ModelDeploymentStatus | undefined {
    return this.bodies('application/apply-patch+yaml', true).at(-1)?.status as ModelDeploymentStatus | undefined;
  }

  /** Events created, as `type reason: note`. */
  events(): string[] {
    return this.requests
      .filter((r) => r.method === 'POST' && r.path.includes('/events'))
      .map((r) => r.body as { type: string; reason: string; note: string })
      .map((e) => `${e.type} ${e.reason}: ${e.note}`);
  }

  deleted(): string[] {
    return this.requests.filter((r) => r.method === 'DELETE').map((r) => r.path.split('/').slice(-2).join('/'));
  }

  private bodies(contentType: string, status: boolean): KubeObject[] {
    return this.requests
      .filter((r) => r.contentType === contentType && r.path.endsWith('/status') === status)
      .map((r) => r.body as KubeObject);
  }
}

/** Informer caches holding one ModelDeployment and the objects it owns, as the cluster reports them. */
class FakeCaches {
  md: KubeObject | undefined;
  owned: KubeObject[] = [];

  modelDeployment(key: string): KubeObject | undefined {
    return key === KEY ? this.md : undefined;
  }

  ownedBy(kind: string, key: string): KubeObject[] {
    return key === KEY ? this.owned.filter((o) => o.kind === kind) : [];
  }

  live(obj: KubeObject): KubeObject | undefined {
    return this.owned.find((o) => o.kind === obj.kind && o.metadata.name === obj.metadata.name);
  }

  /** The cluster after the applies: every applied object cached, Deployments fully available. */
  settle(api: FakeApi): void {
    const applied = api.requests
      .filter((r) => r.contentType === 'application/apply-patch+yaml' && !r.path.endsWith('/status'))
      .map((r) => r.body as KubeObject);
    for (const obj of applied) {
      const live =
        obj.kind === 'Deployment'
          ? (observedDeployment(obj as DesiredObject, 'available') as unknown as KubeObject)
          : structuredClone(obj);
      this.owned = [...this.owned.filter((o) => o.kind !== obj.kind || o.metadata.name !== obj.metadata.name), live];
    }
    const status = api.status();
    if (this.md && status) {
      this.md = { ...this.md, metadata: { ...this.md.metadata, resourceVersion: String(api.resourceVersion) }, status };
    }
  }
}

function world(md: ModelDeployment, seconds = 0) {
  const api = new FakeApi();
  const caches = new FakeCaches();
  caches.md = { ...md, metadata: { ...md.metadata, resourceVersion: '1' } } as unknown as KubeObject;
  const warnings: string[] = [];
  const clock = { seconds };
  /** Every webhook call, and how the fake webhooks answer (HTTP 200 unless told otherwise). */
  const hooks = {
    calls: [] as { hook: WebhookSpec; payload: WebhookPayload }[],
    answer: (_hook: WebhookSpec): Omit<WebhookResult, 'name'> => ({ passed: true, message: 'HTTP 200' }),
  };
  const deps: ReconcileDeps = {
    api,
    caches: caches as unknown as Caches,
    applier: new Applier(api),
    statusWriter: new StatusWriter(api),
    events: new EventRecorder(api, 'operator-0', 0, () => T0 + clock.seconds * 1000),
    options: { serverImage: 'ghcr.io/modelship/server:test' },
    validate: (obj) => validateModelDeployment(obj).errors,
    now: () => new Date(T0 + clock.seconds * 1000),
    warn: (msg) => warnings.push(msg),
    baselines: new Map(),
    readings: new Map(),
    callWebhook: (hook, payload) => {
      hooks.calls.push({ hook, payload });
      return Promise.resolve({ name: hook.name, ...hooks.answer(hook) });
    },
    queryMetric: (metric) => Promise.resolve({ name: metric.name, error: 'no Prometheus in this test' }),
  };
  return { api, caches, deps, warnings, clock, hooks };
}

const conditionsOf = (status: ModelDeploymentStatus | undefined) =>
  Object.fromEntries((status?.conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason}`]));

/**
 * A ModelDeployment serving v1, then its spec changed to v2 (`rollout` for both), with a router
 * publishing stats: both revisions' metadata and no traffic, so every analysis check is
 * inconclusive; and the stats of a router pod long gone.
 */
async function rollingOut(rollout: RolloutSpec) {
  const v1 = mdFixture({ replicas: 2, rollout });
  const w = world(v1);
  const { api, caches, deps, clock } = w;
  await reconcile(KEY, deps);
  caches.settle(api);
  await reconcile(KEY, deps);
  caches.settle(api);
  caches.md = {
    ...caches.md!,
    spec: { ...v1.spec, model: { uri: 'https://models.example.com/digits-2.onnx', sha256: SHA_B } },
  };
  const r2 = revisionOf(caches.md as unknown as ModelDeployment);
  const metadata = { name: 'digits', versions: [], platform: 'onnxruntime', inputs: [], outputs: [] };
  const doc = (pod: string, at: number) =>
    JSON.stringify({
      version: 1,
      pod,
      startTime: new Date(T0).toISOString(),
      time: new Date(at).toISOString(),
      routesGeneration: null,
      revisions: {},
      agreement: {},
      models: Object.fromEntries([revisionOf(v1), r2].map((r) => [`digits-${r}`, { metadata }])),
    });
  const stats = (now: number): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'digits-stats', namespace: 'ml', labels: { 'app.kubernetes.io/component': 'router-stats' } },
    data: {
      'digits-router-live.json': doc('digits-router-live', now),
      'digits-router-gone.json': doc('digits-router-gone', T0 - 3600_000),
    },
  });
  /** `seconds` later: fresh stats from the live router pod, one reconcile, then (unless told not to) settled. */
  const tick = async (seconds: number, settle = true) => {
    clock.seconds += seconds;
    caches.owned = [
      ...caches.owned.filter((o) => o.metadata.name !== 'digits-stats'),
      stats(T0 + clock.seconds * 1000),
    ];
    await reconcile(KEY, deps);
    if (settle) caches.settle(api);
  };
  const md = () => caches.md as unknown as ModelDeployment;
  return { ...w, r2, tick, md };
}

describe('reconcile', () => {
  it('applies a valid ModelDeployment, writes its status, and tells the user once it is Ready', async () => {
    const md = mdFixture({ replicas: 2 });
    const rev = revisionOf(md);
    const { api, caches, deps } = world(md);

    const first = await reconcile(KEY, deps);
    expect(api.applied()).toEqual(expect.arrayContaining([`Deployment/digits-${rev}`, 'Service/digits']));
    expect(first).toMatchObject({ applied: api.applied().length, pruned: 0, statusWritten: true });
    expect(api.status()).toMatchObject({ stable: { revision: rev }, traffic: [{ revision: rev, percent: 100 }] });
    expect(conditionsOf(api.status())).toEqual({
      Ready: 'False Creating',
      Reconciling: 'True Creating',
      Stalled: 'False NoProblems',
    });
    expect(api.events()).toEqual([`Normal InitialRevision: revision ${rev} is the first revision and serves 100%`]);

    caches.settle(api);
    api.requests.length = 0;
    await reconcile(KEY, deps);
    expect(conditionsOf(api.status())).toEqual({
      Ready: 'True Available',
      Reconciling: 'False Reconciled',
      Stalled: 'False NoProblems',
    });
    expect(api.events()).toEqual([`Normal RevisionReady: revision ${rev} serves 100% with 2 available pod(s)`]);

    // Settled: the next reconcile writes nothing at all.
    caches.settle(api);
    api.requests.length = 0;
    expect(await reconcile(KEY, deps)).toMatchObject({ applied: 0, pruned: 0, statusWritten: false });
    expect(api.requests).toEqual([]);
  });

  it('gives an invalid spec a status naming the field and a Warning, and applies nothing', async () => {
    const md = mdFixture({ replicas: -1 });
    const { api, deps } = world(md);

    const outcome = await reconcile(KEY, deps);
    expect(outcome).toMatchObject({ applied: 0, pruned: 0, statusWritten: true });
    expect(api.applied()).toEqual([]);
    expect(api.deleted()).toEqual([]);
    expect(conditionsOf(api.status())).toEqual({
      Ready: 'False InvalidSpec',
      Reconciling: 'False InvalidSpec',
      Stalled: 'True InvalidSpec',
    });
    const ready = api.status()!.conditions!.find((c) => c.type === 'Ready')!;
    expect(ready.message).toContain('spec.replicas');
    expect(api.events()).toEqual([`Warning InvalidSpec: ${ready.message}`]);
  });

  it('reports a failed apply as a Warning Event and fails the reconcile, so the queue retries', async () => {
    const md = mdFixture({ replicas: 2 });
    const { api, deps } = world(md);
    api.fail = (req) =>
      req.method === 'PATCH' && req.path.includes('/deployments/')
        ? new KubeApiError('admission webhook denied the request', 403, 'Forbidden')
        : undefined;

    await expect(reconcile(KEY, deps)).rejects.toThrow(/admission webhook denied the request/);
    const events = api.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatch(/^Warning ApplyFailed: .*Deployment.*admission webhook denied the request/);
    expect(api.status()).toBeUndefined();
  });

  it('prunes owned objects the spec no longer asks for, and nothing it does not own', async () => {
    const md = mdFixture({ replicas: 2 });
    const { api, caches, deps } = world(md);
    await reconcile(KEY, deps);
    caches.settle(api);
    const ours = {
      apiVersion: 'modelship.dev/v1alpha1',
      kind: 'ModelDeployment',
      name: 'digits',
      uid: md.metadata.uid!,
      controller: true,
    };
    const leftover = (name: string, ownerReferences: (typeof ours)[]): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name,
        namespace: 'ml',
        uid: `uid-${name}`,
        ownerReferences,
        labels: { 'modelship.dev/deployment': 'digits' },
      },
    });
    caches.owned.push(leftover('digits-old', [ours]), leftover('made-by-hand', []));
    api.requests.length = 0;

    expect(await reconcile(KEY, deps)).toMatchObject({ pruned: 1 });
    expect(api.deleted()).toEqual(['services/digits-old']);
  });

  it('after an analysis check, removes the stats of router pods that are gone', async () => {
    const { api, tick, md, r2 } = await rollingOut({ steps: [{ weight: 10, pauseSeconds: 60 }] });
    for (let i = 0; i < 6 && md().status?.canary?.phase !== 'Progressing'; i++) await tick(5);
    expect(md().status?.canary).toMatchObject({ revision: r2, phase: 'Progressing' });

    api.requests.length = 0;
    await tick(5, false);
    const patches = api.requests.filter((r) => r.contentType === 'application/merge-patch+json');
    expect(patches).toEqual([
      expect.objectContaining({
        path: '/api/v1/namespaces/ml/configmaps/digits-stats',
        body: { data: { 'digits-router-gone.json': null } },
      }),
    ]);
  });

  it('rolls back a candidate whose model cannot be fetched, and says why in Stalled and one Warning', async () => {
    const { api, caches, tick, md, r2 } = await rollingOut({ steps: [{ weight: 10, pauseSeconds: 60 }] });
    const failing = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `digits-${r2}-abc12`,
        namespace: 'ml',
        labels: { 'modelship.dev/deployment': 'digits', 'modelship.dev/revision': r2 },
      },
      status: {
        containerStatuses: [
          {
            name: 'server',
            ready: false,
            restartCount: 1,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: {
              terminated: {
                exitCode: 1,
                message: formatModelFailure(
                  'ModelAccessDenied',
                  'model https://models.example.com/digits-2.onnx: HTTP 403',
                ),
              },
            },
          },
        ],
      },
    };
    caches.owned = [...caches.owned, failing];
    api.requests.length = 0;
    await tick(1);
    expect(md().status?.canary).toMatchObject({ revision: r2, phase: 'RolledBack', reason: 'ModelAccessDenied' });
    const stalled = md().status!.conditions!.find((c) => c.type === 'Stalled')!;
    expect(stalled).toMatchObject({ status: 'True', reason: 'ModelAccessDenied' });
    expect(stalled.message).toContain(
      `pod ml/digits-${r2}-abc12 container server could not fetch its model: the store refused access`,
    );
    expect(stalled.message).toContain('model https://models.example.com/digits-2.onnx: HTTP 403');
    expect(api.events()).toEqual([`Warning ModelAccessDenied: ${stalled.message}`]);
  });

  it('comes back when a pod waiting for its Secret volume reaches the wait, and then names the Secret', async () => {
    const md = mdFixture({
      replicas: 1,
      model: { uri: 's3://models/digits.onnx', sha256: SHA_B, storage: { secretRef: { name: 'models-creds' } } },
    });
    const rev = revisionOf(md);
    const { api, caches, deps, clock } = world(md);
    await reconcile(KEY, deps);
    caches.settle(api);
    const deployment = caches.owned.find((o) => o.kind === 'Deployment' && o.metadata.name === `digits-${rev}`)!;
    const template = (deployment as unknown as { spec: { template: { spec: unknown } } }).spec.template;
    caches.owned = [
      ...caches.owned,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `digits-${rev}-abc12`,
          namespace: 'ml',
          labels: { 'modelship.dev/deployment': 'digits', 'modelship.dev/revision': rev },
        },
        spec: template.spec,
        status: {
          phase: 'Pending',
          conditions: [
            {
              type: 'PodReadyToStartContainers',
              status: 'False',
              lastTransitionTime: new Date(T0 + clock.seconds * 1000).toISOString(),
            },
          ],
        },
      },
    ];
    clock.seconds += 100;
    const waiting = await reconcile(KEY, deps);
    expect(waiting.requeueAfterMs).toBe(23_000);
    expect(conditionsOf(api.status()).Stalled).toBe('False NoProblems');
    caches.settle(api);
    api.requests.length = 0;
    clock.seconds += 23;
    await reconcile(KEY, deps);
    const stalled = api.status()!.conditions!.find((c) => c.type === 'Stalled')!;
    expect(stalled.reason).toBe('VolumeMountFailed');
    expect(api.events()).toEqual([
      expect.stringMatching(/^Warning VolumeMountFailed: .*Secret ml\/models-creds does not exist/),
    ]);
  });

  it('tells of a rollback once: one Warning, with what serves and the ways on', async () => {
    const { api, caches, tick, md, r2 } = await rollingOut({ steps: [{ weight: 10, pauseSeconds: 60 }] });
    for (let i = 0; i < 6 && md().status?.canary?.phase !== 'Progressing'; i++) await tick(5);
    caches.md = {
      ...caches.md!,
      metadata: { ...caches.md!.metadata, annotations: { [ACTION_ANNOTATION]: 'abort@1' } },
    };
    api.requests.length = 0;
    await tick(1);
    expect(md().status?.canary).toMatchObject({ revision: r2, phase: 'RolledBack', reason: 'ManualAbort' });
    const stalled = md().status!.conditions!.find((c) => c.type === 'Stalled')!;
    expect(api.events()).toEqual([
      `Normal ActionHandled: candidate ${r2} rolled back by action abort@1`,
      `Warning ManualAbort: ${stalled.message}`,
    ]);
    expect(stalled.message).toMatch(/serves 100% — change the spec/);
  });

  it.each([
    ['Rollback', 'RolledBack'],
    ['Pause', 'Paused'],
  ] as const)(
    'resolves a canary with no traffic at the progress deadline (%s): one Warning, Stalled',
    async (policy, phase) => {
      const rollout = {
        steps: [{ weight: 10, pauseSeconds: 5 }],
        analysis: { intervalSeconds: 5 },
        progressDeadlineSeconds: 20,
        onProgressDeadline: policy,
      };
      const { api, tick, md } = await rollingOut(rollout);
      for (let i = 0; i < 6 && md().status?.canary?.phase !== 'Progressing'; i++) await tick(5);
      api.requests.length = 0;
      // No request reaches the router: every check is inconclusive, for 20 s and more.
      for (let i = 0; i < 8 && md().status?.canary?.phase === 'Progressing'; i++) await tick(5);
      expect(md().status?.canary).toMatchObject({ phase, reason: 'RolloutDeadlineExceeded' });
      expect(md().status?.summary).toMatchObject({ phase, reason: 'RolloutDeadlineExceeded' });
      const stalled = md().status!.conditions!.find((c) => c.type === 'Stalled')!;
      expect(stalled).toMatchObject({ status: 'True', reason: 'RolloutDeadlineExceeded' });
      expect(api.events()).toEqual([`Warning RolloutDeadlineExceeded: ${stalled.message}`]);
    },
  );

  it('rolls back a candidate a PreRollout webhook refuses before it gets any traffic, and tells Rollback webhooks', async () => {
    const webhooks: WebhookSpec[] = [
      { name: 'smoke', type: 'PreRollout', url: 'http://tests.example.com/smoke', metadata: { suite: 'smoke' } },
      { name: 'pager', type: 'Rollback', url: 'http://pager.example.com/' },
    ];
    const { api, tick, md, r2, hooks, warnings } = await rollingOut({
      steps: [{ weight: 10, pauseSeconds: 60 }],
      analysis: { webhooks },
    });
    hooks.answer = (hook) =>
      hook.name === 'smoke' ? { passed: false, message: 'HTTP 500' } : { passed: true, message: 'HTTP 204' };
    api.requests.length = 0;
    for (let i = 0; i < 6 && md().status?.canary?.phase !== 'RolledBack'; i++) await tick(5);
    await new Promise((resolve) => setImmediate(resolve));

    expect(md().status?.canary).toMatchObject({
      revision: r2,
      phase: 'RolledBack',
      reason: 'WebhookFailed',
      weight: 0,
    });
    expect(md().status?.canary?.message).toBe(
      `candidate ${r2} rolled back before any traffic: PreRollout webhook smoke failed (HTTP 500)`,
    );
    expect(md().status?.traffic?.find((t) => t.revision === r2)?.percent ?? 0).toBe(0);
    expect(hooks.calls.map((c) => [c.hook.name, c.payload])).toEqual([
      [
        'smoke',
        {
          name: 'digits',
          namespace: 'ml',
          type: 'PreRollout',
          revision: r2,
          stable: expect.any(String),
          weight: 0,
          step: 0,
          metadata: { suite: 'smoke' },
        },
      ],
      ['pager', expect.objectContaining({ type: 'Rollback', revision: r2, weight: 0, metadata: {} })],
    ]);
    const stalled = md().status!.conditions!.find((c) => c.type === 'Stalled')!;
    expect(stalled).toMatchObject({ status: 'True', reason: 'WebhookFailed' });
    expect(api.events()).toEqual([
      `Normal Starting: waiting for candidate ${r2} to become available`,
      `Warning WebhookFailed: ${stalled.message}`,
      `Normal RollbackWebhook: Rollback webhook pager told of the rollback of ${r2}: HTTP 204`,
    ]);
    expect(warnings).toContain('PreRollout webhook smoke of ModelDeployment ml/digits failed: HTTP 500');
    expect(JSON.stringify(md().status)).not.toContain('tests.example.com');
  });

  it('decides nothing again on a cached copy that does not show its own status write yet: one PreRollout call, one rollback', async () => {
    const webhooks: WebhookSpec[] = [
      { name: 'smoke', type: 'PreRollout', url: 'http://tests.example.com/smoke' },
      { name: 'pager', type: 'Rollback', url: 'http://pager.example.com/' },
    ];
    const { api, caches, tick, md, hooks } = await rollingOut({
      steps: [{ weight: 10, pauseSeconds: 60 }],
      analysis: { webhooks },
    });
    hooks.answer = (hook) =>
      hook.name === 'smoke' ? { passed: false, message: 'HTTP 500' } : { passed: true, message: 'HTTP 204' };
    api.requests.length = 0;
    for (let i = 0; i < 6 && api.status()?.canary?.phase !== 'RolledBack'; i++) {
      await tick(5, false);
      if (api.status()?.canary?.phase !== 'RolledBack') caches.settle(api);
    }
    expect(api.status()?.canary?.phase).toBe('RolledBack');
    await new Promise((resolve) => setImmediate(resolve));
    const written = api.requests.length;

    // The informer has not delivered the write yet: the same PreRollout would be due again.
    await tick(1, false);
    await tick(1, false);
    expect(api.requests.slice(written)).toEqual([]);
    caches.settle(api);
    await tick(1);
    await new Promise((resolve) => setImmediate(resolve));

    expect(md().status?.canary).toMatchObject({ phase: 'RolledBack', reason: 'WebhookFailed' });
    expect(hooks.calls.map((c) => `${c.payload.type} ${c.hook.name}`)).toEqual(['PreRollout smoke', 'Rollback pager']);
    expect(api.events().filter((e) => e.startsWith('Warning'))).toHaveLength(1);
  });

  it('counts a failing Rollout webhook as a failed check, even while the analysis is inconclusive', async () => {
    const { tick, md, hooks } = await rollingOut({
      steps: [{ weight: 10, pauseSeconds: 60 }],
      analysis: {
        intervalSeconds: 5,
        failureLimit: 2,
        webhooks: [{ name: 'kpi', type: 'Rollout', url: 'http://kpi.example.com/' }],
      },
    });
    for (let i = 0; i < 6 && md().status?.canary?.phase !== 'Progressing'; i++) await tick(5);
    expect(hooks.calls).toEqual([]);
    hooks.answer = () => ({ passed: false, message: 'no answer within 10s' });
    await tick(5);
    expect(md().status?.canary).toMatchObject({ phase: 'Progressing', failures: 1, lastResult: 'Failed' });
    expect(md().status?.canary?.analysisMessage).toMatch(
      /^Rollout webhook kpi failed \(no answer within 10s\) \(analysis: /,
    );
    await tick(5);
    expect(md().status?.canary).toMatchObject({ phase: 'RolledBack', reason: 'WebhookFailed', failures: 2 });
    expect(hooks.calls.map((c) => [c.hook.name, c.payload.type, c.payload.weight, c.payload.step])).toEqual([
      ['kpi', 'Rollout', 10, 1],
      ['kpi', 'Rollout', 10, 1],
    ]);
  });

  it('comes back to keep status.monitoring fresh while drift is on, and tells of a drift once', async () => {
    const md = mdFixture({ replicas: 1, monitoring: { drift: {} } });
    const rev = revisionOf(md);
    const { api, caches, deps } = world(md);
    expect((await reconcile(KEY, deps)).requeueAfterMs).toBe(MONITORING_REFRESH_SECONDS * 1000);
    caches.settle(api);
    await reconcile(KEY, deps);
    caches.settle(api);
    expect(conditionsOf(api.status()).DataDrift).toBe('False NoDrift');
    // The routers' stats change without waking a reconcile: the refresh picks the drift up.
    const drifted = {
      version: 1,
      pod: 'digits-router-1',
      startTime: new Date(T0).toISOString(),
      time: new Date(T0).toISOString(),
      routesGeneration: null,
      agreement: {},
      revisions: {
        [`digits-${rev}`]: {
          live: emptyTraffic(),
          mirror: emptyTraffic(),
          drift: { reference: 'live', rows: 400, windowRows: 1000, inputPsi: 0.5, feature: 'input[3]', outputPsi: 0.1 },
        },
      },
    };
    caches.owned = caches.owned.map((o) =>
      o.metadata.name === 'digits-stats' ? { ...o, data: { 'digits-router-1.json': JSON.stringify(drifted) } } : o,
    );
    api.requests.length = 0;
    await reconcile(KEY, deps);
    expect(api.events()).toEqual([
      `Warning DriftDetected: revision ${rev}: input PSI 0.5 on feature input[3] above the threshold 0.2`,
    ]);
    // A router pod restarts: no figures until its window refills, and no DriftResolved for that.
    caches.settle(api);
    api.requests.length = 0;
    await reconcile(KEY, deps);
    expect(api.events()).toEqual([]);
    expect(conditionsOf(api.status()).DataDrift).toBe('True DriftDetected');
  });

  it('forgets a deleted ModelDeployment without a request: the garbage collector removes what it owned', async () => {
    const { api, caches, deps } = world(mdFixture());
    caches.md = undefined;
    deps.baselines.set(KEY, []);
    expect(await reconcile(KEY, deps)).toEqual({ applied: 0, skipped: 0, pruned: 0, statusWritten: false });
    expect(api.requests).toEqual([]);
    expect(deps.baselines.has(KEY)).toBe(false);
  });
});

describe('scaleEvents: one Event per replica change request autoscaling decides', () => {
  const entry = (desiredReplicas: number, reason: RevisionScaleStatus['reason'] = 'Load'): RevisionScaleStatus => ({
    revision: 'abc',
    role: 'stable',
    desiredReplicas,
    currentReplicas: 0,
    readyReplicas: 0,
    reason,
    message: 'load 13.2 in flight against a target of 4 per pod: 4 replica(s)',
  });
  it.each<[string, RevisionScaleStatus[] | undefined, RevisionScaleStatus[], string[]]>([
    [
      'up',
      [entry(1)],
      [entry(4)],
      ['ScaledUp revision abc: 1 → 4 replica(s): load 13.2 in flight against a target of 4 per pod: 4 replica(s)'],
    ],
    [
      'down',
      [entry(4)],
      [entry(2)],
      ['ScaledDown revision abc: 4 → 2 replica(s): load 13.2 in flight against a target of 4 per pod: 4 replica(s)'],
    ],
    [
      'to zero',
      [entry(2)],
      [entry(0, 'Idle')],
      [expect.stringMatching(/^ScaledToZero revision abc: 2 → 0/) as unknown as string],
    ],
    [
      'from zero',
      [entry(0, 'Idle')],
      [entry(3, 'Activation')],
      [expect.stringMatching(/^Activating revision abc: 0 → 3/) as unknown as string],
    ],
    ['unchanged: nothing', [entry(4)], [entry(4)], []],
    ['a revision seen for the first time: nothing', undefined, [entry(4)], []],
    [
      'a candidate sized by its weight: the canary has its own Events',
      [entry(1, 'CanaryWeight')],
      [entry(3, 'CanaryWeight')],
      [],
    ],
  ])('%s', (_name, before, after, expected) => {
    expect(scaleEvents(before, after).map((e) => `${e.reason} ${e.note}`)).toEqual(expected);
  });
});

describe('recordReading: the ring of stats readings', () => {
  const doc = (pod: string, s: number) =>
    ({ pod, time: new Date(T0 + s * 1000).toISOString() }) as unknown as RouterStatsDocument;
  const reading = (s: number, docs = [doc('router-a', s)]) => ({ at: T0 + s * 1000, documents: docs });

  it('appends a reading, and skips one in which no router pod wrote since the last', () => {
    const ring = recordReading([reading(0)], reading(1), 60);
    expect(ring.map((r) => r.at)).toEqual([T0, T0 + 1000]);
    expect(recordReading(ring, { at: T0 + 1500, documents: [doc('router-a', 1)] }, 60)).toHaveLength(2);
  });

  it('keeps only what the windows need, and never more than MAX_READINGS', () => {
    let ring: ReturnType<typeof recordReading> = [];
    for (let s = 0; s <= 100; s++) ring = recordReading(ring, reading(s), 30);
    expect(ring[0]!.at).toBe(T0 + 70_000);
    let long: ReturnType<typeof recordReading> = [];
    for (let s = 0; s < MAX_READINGS + 10; s++) long = recordReading(long, reading(s), 1e6);
    expect(long).toHaveLength(MAX_READINGS);
  });
});
