import type { V1Deployment, V1Pod, V1Volume } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/types.js';
import { desiredObjects } from '../desired/index.js';
import { emptyObserved, type Observed } from '../observed.js';
import { mdFixture, observedAfter, podFixture, SHA_B, type Progress } from '../../test/fixtures.js';
import { plan } from '../rollout/plan.js';
import { revisionOf } from '../rollout/revision.js';
import type { CanaryState } from '../rollout/canary.js';
import { canaryStateOf, canaryStatusOf } from './canary-status.js';
import { computeStatus, HISTORY_LIMIT, invalidSpecStatus } from './index.js';
import { FETCH_FAILURE_REASONS, formatModelFailure } from '../../../contract/model-source.js';
import { PROBLEM_REASONS } from './problems.js';

const T0 = new Date('2026-11-21T06:00:00.000Z');
const T1 = new Date('2026-11-21T06:05:00.000Z');
const OPTIONS = { serverImage: 'ghcr.io/modelship/server:1.0.0' };

function observedAt(md: ModelDeployment, progress: Progress): Observed {
  return observedAfter(desiredObjects(md, plan(md, emptyObserved(), T0), OPTIONS), progress);
}
function statusOf(md: ModelDeployment, observed: Observed, now = T0) {
  return computeStatus(md, observed, plan(md, observed, now), now);
}
function conditions(status: ReturnType<typeof statusOf>): Record<string, [string, string]> {
  return Object.fromEntries((status.conditions ?? []).map((c) => [c.type, [c.status, c.reason]]));
}

describe('computeStatus', () => {
  const md = mdFixture({ replicas: 2 });
  const rev = revisionOf(md);

  // Rows: progress of the stable Deployment, then Ready, Reconciling, Stalled as [status, reason].
  it.each([
    ['nothing created yet', undefined, ['False', 'Creating'], ['True', 'Creating'], ['False', 'NoProblems']],
    ['no pod ready', 'none', ['False', 'Starting'], ['True', 'Updating'], ['False', 'NoProblems']],
    ['one of two pods ready', 'partial', ['False', 'Starting'], ['True', 'Updating'], ['False', 'NoProblems']],
    ['all pods ready', 'available', ['True', 'Available'], ['False', 'Reconciled'], ['False', 'NoProblems']],
  ] as const)('%s', (_what, progress, ready, reconciling, stalled) => {
    const observed = progress === undefined ? emptyObserved() : observedAt(md, progress);
    expect(conditions(statusOf(md, observed))).toEqual({ Ready: ready, Reconciling: reconciling, Stalled: stalled });
  });

  it('reports the stable revision, replicas, traffic, url and the scale selector', () => {
    const status = statusOf(md, observedAt(md, 'available'));
    expect(status).toMatchObject({
      observedGeneration: 1,
      stable: {
        revision: rev,
        model: { uri: md.spec.model.uri, sha256: md.spec.model.sha256 },
        replicas: 2,
        readyReplicas: 2,
      },
      traffic: [{ revision: rev, percent: 100 }],
      trafficSummary: `${rev}=100%`,
      url: 'http://digits.ml.svc.cluster.local',
      replicas: 2,
      selector: `modelship.dev/deployment=digits,modelship.dev/revision=${rev}`,
      history: [{ revision: rev, outcome: 'Initial', at: T0.toISOString() }],
    });
    for (const c of status.conditions!) expect(c.observedGeneration).toBe(1);
  });

  it('is idempotent: recomputing from its own output changes nothing, even later', () => {
    const observed = observedAt(md, 'available');
    const first = statusOf(md, observed);
    const again = statusOf({ ...md, status: first }, observed, T1);
    expect(again).toEqual(first);
  });

  it('moves lastTransitionTime only for conditions whose status changed', () => {
    const starting = statusOf(md, observedAt(md, 'none'));
    const ready = statusOf({ ...md, status: starting }, observedAt(md, 'available'), T1);
    const time = (s: typeof ready, type: string) => s.conditions!.find((c) => c.type === type)!.lastTransitionTime;
    expect(time(ready, 'Ready')).toBe(T1.toISOString());
    expect(time(ready, 'Reconciling')).toBe(T1.toISOString());
    expect(time(ready, 'Stalled')).toBe(T0.toISOString());
  });

  it('follows a new generation in observedGeneration', () => {
    const observed = observedAt(md, 'available');
    const first = statusOf(md, observed);
    const next = statusOf({ ...md, metadata: { ...md.metadata, generation: 2 }, status: first }, observed, T1);
    expect(next.observedGeneration).toBe(2);
    expect(next.conditions!.every((c) => c.observedGeneration === 2)).toBe(true);
  });

  it('keeps only the last history entries', () => {
    const history = Array.from({ length: HISTORY_LIMIT }, (_, i) => ({
      revision: `r${i}`,
      model: md.spec.model,
      outcome: 'Promoted' as const,
      at: T0.toISOString(),
    }));
    const status = statusOf({ ...md, status: { history } }, observedAt(md, 'available'));
    expect(status.history).toHaveLength(HISTORY_LIMIT);
    expect(status.history!.at(-1)!.revision).toBe(rev);
    expect(status.history![0]!.revision).toBe('r1');
  });

  describe('problems', () => {
    const pod = (status: V1Pod['status']): V1Pod => podFixture(md, rev, `digits-${rev}-abc12`, status);
    const crashing = (message: string | undefined, exitCode = 1) =>
      pod({
        containerStatuses: [
          {
            name: 'server',
            image: 'img',
            imageID: '',
            ready: false,
            restartCount: 3,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
            lastState: { terminated: { exitCode, reason: 'Error', ...(message ? { message } : {}) } },
          },
        ],
      });
    const waiting = (reason: string, message: string) =>
      pod({
        containerStatuses: [
          {
            name: 'server',
            image: 'ghcr.io/modelship/server:nope',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason, message } },
          },
        ],
      });
    const unschedulable = (message: string) =>
      pod({
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }],
      });
    /** A pod scheduled `seconds` before T0 whose sandbox is not ready (the kubelet cannot mount its volumes). */
    const notStarting = (seconds: number, volumes: V1Volume[]): V1Pod => ({
      ...pod({
        phase: 'Pending',
        conditions: [
          {
            type: 'PodReadyToStartContainers',
            status: 'False',
            lastTransitionTime: new Date(T0.getTime() - seconds * 1000),
          },
          { type: 'PodScheduled', status: 'True' },
        ],
        containerStatuses: [
          {
            name: 'server',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'ContainerCreating' } },
          },
        ],
      }),
      spec: { containers: [], volumes: [{ name: 'model-cache', emptyDir: {} }, ...volumes] },
    });
    const deploymentCondition =
      (type: string, status: string, reason: string, message: string) => (d: V1Deployment) => {
        d.status!.conditions = [...(d.status!.conditions ?? []), { type, status, reason, message }];
      };

    // Rows: the reason, the pod (if any), an edit of the Deployment (if any), words the message must contain.
    const rows: [string, V1Pod | undefined, ((d: V1Deployment) => void) | undefined, RegExp][] = [
      [
        'ModelVerificationFailed',
        crashing(
          formatModelFailure('ModelVerificationFailed', 'model digits.onnx: sha256 mismatch: expected aaaa, got bbbb'),
        ),
        undefined,
        /container server refused its model: model digits.onnx: sha256 mismatch: expected aaaa, got bbbb/,
      ],
      // Each fetch failure as the server leaves it in its termination message (the URI already without
      // credentials); the condition names the pod, the URI and what failed.
      [
        'ModelDigestMismatch',
        crashing(
          formatModelFailure(
            'ModelDigestMismatch',
            'model s3://models/digits.onnx: sha256 is bbbb, spec.model.sha256 is aaaa',
          ),
        ),
        undefined,
        /pod ml\/digits-\w+-abc12 container server could not fetch its model: the fetched model is not the one spec.model.sha256 .*pins: model s3:\/\/models\/digits.onnx: sha256 is bbbb/,
      ],
      [
        'ModelNotFound',
        crashing(formatModelFailure('ModelNotFound', 'model s3://models/digits.onnx: NoSuchKey')),
        undefined,
        /could not fetch its model: the model is not in its store .*: model s3:\/\/models\/digits.onnx: NoSuchKey/,
      ],
      [
        'ModelAccessDenied',
        crashing(formatModelFailure('ModelAccessDenied', 'model gs://models/digits.onnx: 403 Forbidden')),
        undefined,
        /the store refused access \(check the Secret named by spec.model.storage.secretRef\): model gs:\/\/models\/digits.onnx: 403/,
      ],
      [
        'ModelSourceInvalid',
        crashing(
          formatModelFailure('ModelSourceInvalid', 'model oci://localhost:5000/models/digits:v1: no .onnx layer'),
        ),
        undefined,
        /spec.model.uri or spec.model.storage cannot be used: model oci:\/\/localhost:5000\/models\/digits:v1: no .onnx layer/,
      ],
      [
        'ModelFetchTimeout',
        crashing(formatModelFailure('ModelFetchTimeout', 'model s3://models/digits.onnx: no answer within 300 s')),
        undefined,
        /ran past its deadline.*: model s3:\/\/models\/digits.onnx: no answer within 300 s/,
      ],
      [
        'ModelSourceUnavailable',
        crashing(
          formatModelFailure(
            'ModelSourceUnavailable',
            'model https://models.example.com/d.onnx: HTTP 503 (4 attempts)',
          ),
        ),
        undefined,
        /kept failing until the retries ran out: model https:\/\/models.example.com\/d.onnx: HTTP 503 \(4 attempts\)/,
      ],
      [
        'ImagePullFailed',
        waiting('ImagePullBackOff', 'Back-off pulling image'),
        undefined,
        /ImagePullBackOff for image ghcr.io\/modelship\/server:nope/,
      ],
      [
        'PersistentVolumeClaimNotFound',
        unschedulable(
          '0/3 nodes are available: persistentvolumeclaim "models" not found. preemption: 0/3 nodes are available',
        ),
        undefined,
        /PersistentVolumeClaim ml\/models not found/,
      ],
      [
        'VolumeMountFailed',
        notStarting(130, [
          { name: 'storage-credentials', secret: { secretName: 'models-creds' } },
          { name: 'storage-ca', configMap: { name: 'store-ca' } },
        ]),
        undefined,
        /has not started in the 123s the kubelet waits for volumes: they are not mounted, most likely because one of Secret ml\/models-creds, ConfigMap ml\/store-ca does not exist/,
      ],
      [
        'ContainerConfigError',
        waiting('CreateContainerConfigError', 'secret "tokens" not found'),
        undefined,
        /secret "tokens" not found/,
      ],
      [
        'CrashLoopBackOff',
        crashing('listen EADDRINUSE 0.0.0.0:8080'),
        undefined,
        /keeps crashing: exit code 1 \(Error\): listen EADDRINUSE/,
      ],
      [
        'Unschedulable',
        unschedulable('0/3 nodes are available: 3 Insufficient cpu.'),
        undefined,
        /cannot be scheduled: .*Insufficient cpu/,
      ],
      [
        'ReplicaFailure',
        undefined,
        deploymentCondition('ReplicaFailure', 'True', 'FailedCreate', 'pods "x" is forbidden: exceeded quota'),
        /exceeded quota/,
      ],
      [
        'ProgressDeadlineExceeded',
        undefined,
        deploymentCondition(
          'Progressing',
          'False',
          'ProgressDeadlineExceeded',
          `ReplicaSet "digits-${rev}-7d9" has timed out progressing.`,
        ),
        /timed out progressing/,
      ],
    ];

    it('covers every reason it declares', () => {
      expect(rows.map((r) => r[0])).toEqual([...PROBLEM_REASONS]);
    });

    it.each(rows)(
      '%s: Stalled=True with the reason, Ready=False, Reconciling=False',
      (reason, p, editDeployment, words) => {
        const observed = observedAt(md, 'none');
        if (p) observed.pods.push(p);
        if (editDeployment) editDeployment(observed.deployments[0]!);
        const status = statusOf(md, observed);
        expect(conditions(status)).toEqual({
          Ready: ['False', reason],
          Reconciling: ['False', 'Stalled'],
          Stalled: ['True', reason],
        });
        const stalled = status.conditions!.find((c) => c.type === 'Stalled')!;
        expect(stalled.message).toMatch(words);
        expect(stalled.message).toContain(`revision ${rev}`);
      },
    );

    it('has a reason for every fetch failure a server can report', () => {
      expect(PROBLEM_REASONS).toEqual(expect.arrayContaining([...FETCH_FAILURE_REASONS]));
    });

    it('keeps signature failures as ModelVerificationFailed, and a fetch failure over the crash loop it causes', () => {
      const signature = observedAt(md, 'none');
      signature.pods.push(
        crashing(formatModelFailure('ModelVerificationFailed', 'model digits.onnx: signature check failed: no match')),
      );
      expect(conditions(statusOf(md, signature)).Stalled).toEqual(['True', 'ModelVerificationFailed']);
      const fetch = observedAt(md, 'none');
      fetch.pods.push(crashing(formatModelFailure('ModelNotFound', 'model s3://models/x.onnx: NoSuchKey')));
      expect(conditions(statusOf(md, fetch)).Stalled).toEqual(['True', 'ModelNotFound']);
    });

    it('reads no reason into the log lines Kubernetes shows for a killed container, and names how it ended', () => {
      // FallbackToLogsOnError: a container killed before writing a termination message shows its last log lines.
      const logs = '{"level":"info","msg":"listening","port":8080,"sha256":"6b6a5e14b0723a58"}';
      const killed = observedAt(md, 'none');
      killed.pods.push(crashing(logs, 137));
      killed.pods[0]!.status!.containerStatuses![0]!.lastState!.terminated!.reason = 'OOMKilled';
      const stalled = statusOf(md, killed).conditions!.find((c) => c.type === 'Stalled')!;
      expect(stalled).toMatchObject({ status: 'True', reason: 'CrashLoopBackOff' });
      expect(stalled.message).toContain('keeps crashing: exit code 137 (OOMKilled): {"level":"info","msg":"listening"');

      // Killed once and running again: no problem at all.
      const restarted = observedAt(md, 'none');
      restarted.pods.push(crashing(logs, 137));
      restarted.pods[0]!.status!.containerStatuses![0]!.state = { running: {} };
      expect(conditions(statusOf(md, restarted)).Stalled).toEqual(['False', 'NoProblems']);
    });

    it('never shows credentials a termination message carries', () => {
      const observed = observedAt(md, 'none');
      observed.pods.push(
        crashing(formatModelFailure('ModelAccessDenied', 'model https://alice:s3cret@models.example.com/d.onnx: 401')),
      );
      const stalled = statusOf(md, observed).conditions!.find((c) => c.type === 'Stalled')!;
      expect(stalled.message).toContain('model https://models.example.com/d.onnx: 401');
      expect(stalled.message).not.toMatch(/alice|s3cret/);
    });

    it('waits as long as the kubelet does before naming a Secret or ConfigMap volume, and names only those', () => {
      const secret = [{ name: 'storage-credentials', secret: { secretName: 'models-creds' } }];
      const early = observedAt(md, 'none');
      early.pods.push(notStarting(60, secret));
      expect(conditions(statusOf(md, early)).Stalled).toEqual(['False', 'NoProblems']);
      const late = observedAt(md, 'none');
      late.pods.push(notStarting(124, secret));
      const stalled = statusOf(md, late).conditions!.find((c) => c.type === 'Stalled')!;
      expect(stalled).toMatchObject({ status: 'True', reason: 'VolumeMountFailed' });
      expect(stalled.message).toMatch(/most likely because Secret ml\/models-creds does not exist/);
      // The same message later, so the status is not rewritten at every reconcile.
      const later = statusOf(md, late, new Date(T0.getTime() + 60_000)).conditions!.find((c) => c.type === 'Stalled');
      expect(later).toMatchObject({ reason: stalled.reason, message: stalled.message });
      const withoutSecrets = observedAt(md, 'none');
      withoutSecrets.pods.push(notStarting(600, []));
      expect(conditions(statusOf(md, withoutSecrets)).Stalled).toEqual(['False', 'NoProblems']);
    });

    it('reads an unknown reason prefix as an ordinary crash', () => {
      const observed = observedAt(md, 'none');
      observed.pods.push(crashing('ModelOnFire: model s3://models/x.onnx: smoke'));
      expect(conditions(statusOf(md, observed)).Stalled).toEqual(['True', 'CrashLoopBackOff']);
    });

    it('keeps the start and the cause of a long message, eliding the middle', () => {
      const image = 'ghcr.io/modelship/server:nope';
      const pullError = `failed to pull and unpack image "${image}": ${'failed to resolve reference: '.repeat(12)}${image}: not found`;
      const observed = observedAt(md, 'none');
      observed.pods.push(waiting('ErrImagePull', pullError));
      const message = statusOf(md, observed).conditions!.find((c) => c.type === 'Stalled')!.message;
      expect(message).toContain(`ErrImagePull for image ${image}: failed to pull`);
      expect(message).toContain('…');
      expect(message).toMatch(/: not found$/);
    });

    it('reports a crash loop without a termination message by its exit code', () => {
      const observed = observedAt(md, 'none');
      observed.pods.push(crashing(undefined, 137));
      expect(statusOf(md, observed).conditions!.find((c) => c.type === 'Stalled')!.message).toMatch(/exit code 137/);
    });

    it('ignores a healthy pod and a pod of another ModelDeployment', () => {
      const observed = observedAt(md, 'available');
      observed.pods.push(
        pod({
          phase: 'Running',
          containerStatuses: [
            { name: 'server', image: 'i', imageID: '', ready: true, restartCount: 0, state: { running: {} } },
          ],
        }),
      );
      const other = crashing('sha256 mismatch');
      other.metadata!.labels!['modelship.dev/deployment'] = 'other';
      observed.pods.push(other);
      expect(conditions(statusOf(md, observed)).Stalled).toEqual(['False', 'NoProblems']);
    });

    it('stays Ready while a failing candidate is Stalled, and names the candidate', () => {
      const v2 = {
        ...mdFixture({ replicas: 2, model: { uri: 'https://m.example.com/v2.onnx', sha256: SHA_B } }),
        status: { stable: { revision: rev, model: md.spec.model, readyReplicas: 2 } },
      };
      const r2 = revisionOf(v2);
      const observed = observedAt(md, 'available');
      const p = plan(v2, observed, T0);
      expect(p.candidate?.revision).toBe(r2);
      const bad = podFixture(v2, r2, `digits-${r2}-zzz`, {
        containerStatuses: [
          {
            name: 'server',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 2,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: {
              terminated: {
                exitCode: 1,
                message: formatModelFailure('ModelVerificationFailed', 'model v2.onnx: signature check failed'),
              },
            },
          },
        ],
      });
      observed.pods.push(bad);
      const status = computeStatus(v2, observed, p, T0);
      expect(conditions(status)).toEqual({
        Ready: ['True', 'Available'],
        Reconciling: ['False', 'Stalled'],
        Stalled: ['True', 'ModelVerificationFailed'],
      });
      expect(status.conditions!.find((c) => c.type === 'Stalled')!.message).toContain(`revision ${r2}`);
      expect(status.canary).toMatchObject({ revision: r2, phase: 'Pending', weight: 0, step: -1 });
      expect(status.traffic).toEqual([
        { revision: rev, percent: 100 },
        { revision: r2, percent: 0 },
      ]);
    });
  });
});

describe('invalidSpecStatus', () => {
  it('is Stalled with reason InvalidSpec naming every error, and keeps what served before', () => {
    const md = mdFixture();
    md.metadata.generation = 4;
    md.status = {
      stable: { revision: 'abc', model: md.spec.model, readyReplicas: 1 },
      url: 'http://digits.ml.svc.cluster.local',
    };
    const status = invalidSpecStatus(
      md,
      [
        { path: 'spec.model.sha256', message: 'must be 64 lowercase hex characters' },
        { path: 'spec.replicas', message: 'must be >= 0' },
      ],
      T0,
    );
    expect(status.observedGeneration).toBe(4);
    expect(status.stable?.revision).toBe('abc');
    const stalled = status.conditions!.find((c) => c.type === 'Stalled')!;
    expect(stalled).toMatchObject({ status: 'True', reason: 'InvalidSpec', observedGeneration: 4 });
    expect(stalled.message).toBe('spec.model.sha256: must be 64 lowercase hex characters; spec.replicas: must be >= 0');
    expect(status.conditions!.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'InvalidSpec',
    });
  });
});

describe('status against the CRD schema', () => {
  // A status field the CRD does not declare is pruned by the API server, so the next reconcile
  // would see a difference and write again forever. Every status we produce must fit the schema.
  it('fits the CRD for a steady state, a rollout in progress, a stall and an invalid spec', async () => {
    const { compileValidator } = await import('../api/validate.js');
    const validateModelDeployment = compileValidator(undefined, { checkStatus: true });
    const md = mdFixture({ replicas: 2 });
    const observed = observedAt(md, 'available');
    const steady = statusOf(md, observed);
    const v2 = {
      ...mdFixture({
        replicas: 2,
        rollout: { strategy: 'Replace' },
        model: { uri: 'https://m.example.com/v2.onnx', sha256: SHA_B },
      }),
      status: steady,
    };
    const rolling = computeStatus(v2, observed, plan(v2, observed, T0), T0);
    const afterPromotion = (() => {
      const both = observedAfter(desiredObjects(v2, plan(v2, observed, T0), OPTIONS), 'available');
      return computeStatus(v2, both, plan(v2, both, T0), T0);
    })();
    const invalid = invalidSpecStatus(md, [{ path: 'spec.replicas', message: 'must be >= 0' }], T0);
    expect(rolling.canary).toBeDefined();
    expect(afterPromotion.retained).toHaveLength(1);
    // Everything the canary state machine keeps in status.canary between reconciles.
    const canary = {
      ...rolling,
      lastAction: 'promote@2026-11-21T06:00:00Z',
      canary: {
        ...rolling.canary!,
        phase: 'Progressing' as const,
        step: 1,
        weight: 50,
        mirrorPercent: 50,
        stepStartedAt: T0.toISOString(),
        lastCheckAt: T0.toISOString(),
        passedAt: T0.toISOString(),
        failures: 1,
        inconclusive: 2,
        inconclusiveSince: T0.toISOString(),
        lastResult: 'Passed' as const,
        analysisMessage: 'error rate 0.0% <= 1.0%',
        reason: 'StepPassed',
        message: 'step 2 of 2',
        analysis: {
          requests: 120,
          errorRate: 0,
          latencyP99Ms: 12.5,
          agreement: 0.99,
          failures: 1,
          lastResult: 'Passed' as const,
          message: 'ok',
        },
      },
    };
    for (const status of [steady, rolling, afterPromotion, invalid, canary]) {
      expect(validateModelDeployment({ ...md, status }).errors).toEqual([]);
    }
    // The check can fail: a field the schema does not declare is reported.
    expect(validateModelDeployment({ ...md, status: { ...steady, phase: 'x' } }).errors).toEqual([
      { path: 'status.phase', message: 'unknown field' },
    ]);
  });
});

describe('canaryStatusOf and canaryStateOf', () => {
  const model = { uri: 'https://models.example.com/digits-2.onnx', sha256: SHA_B };
  const base: CanaryState = {
    revision: 'bbbbbbbbbb',
    phase: 'Progressing',
    step: 0,
    weight: 10,
    mirrorPercent: 10,
    stepStartedAt: '2026-11-21T06:00:00.000Z',
    failures: 1,
    inconclusive: 2,
    reason: 'StepInProgress',
    message: 'step 1/2 (10%): 20s of the pause left',
  };
  const checked: CanaryState = {
    ...base,
    lastCheckAt: '2026-11-21T06:00:10.000Z',
    passedAt: '2026-11-21T06:00:10.000Z',
    lastResult: 'Passed',
    analysisMessage: '120 requests, error rate 0%',
    // The status keeps the rates, not the counts of comparisons behind the agreement.
    figures: { requests: 120, errors: 6, errorRate: 0.05, compared: 0, agreed: 0, agreement: 1, latencyP99Ms: 42 },
  };

  // The state machine's memory survives the status: what one decision leaves, the next one reads.
  it.each<[string, CanaryState]>([
    ['before any check', base],
    ['after a passing check, with figures', checked],
    [
      'waiting for a check it can judge, the deadline clock running',
      {
        ...base,
        lastResult: 'Inconclusive',
        figures: { requests: 3, errors: 0, errorRate: 0, compared: 0, agreed: 0 },
        inconclusiveSince: '2026-11-21T06:00:10.000Z',
        reason: 'InsufficientTraffic',
      },
    ],
    ['rolled back', { ...checked, phase: 'RolledBack', weight: 0, mirrorPercent: 0, reason: 'ErrorRateExceeded' }],
    [
      'rolled back for accuracy, with the labels of the last check',
      {
        ...checked,
        phase: 'RolledBack',
        weight: 0,
        mirrorPercent: 0,
        reason: 'AccuracyTooLow',
        figures: { ...checked.figures!, labels: 60, correct: 15, accuracy: 0.25 },
      },
    ],
  ])('%s: the state comes back as it was written', (_name, state) => {
    const status = canaryStatusOf(state, model, 3);
    expect(status).toMatchObject({ revision: state.revision, model, readyReplicas: 3, phase: state.phase });
    expect(canaryStateOf(status)).toEqual(state);
  });

  it('rounds figures to four decimals, so float noise does not rewrite the status', () => {
    const noisy: CanaryState = { ...checked, figures: { ...checked.figures!, errorRate: 1 / 3 } };
    expect(canaryStatusOf(noisy, model, 1).analysis).toMatchObject({ requests: 120, errorRate: 0.3333 });
  });

  it('reads no canary from a status without one', () => {
    expect(canaryStateOf(undefined)).toBeUndefined();
  });
});
