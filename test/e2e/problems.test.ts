/**
 * Problems of a ModelDeployment's pods surface in its status conditions, not only in logs. kwok
 * makes every pod on its nodes Running and Ready, so this file registers a Node kwok does not
 * manage (no `kwok.x-k8s.io/node` annotation), cordons the kwok nodes so new pods land on it, and
 * plays that node's kubelet itself: it writes pod status the way a kubelet reports a model server
 * that crash-loops on a digest mismatch, an image that cannot be pulled, and the recovery.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { kwokNodeAnnotation } from '../cluster/components.js';
import { repoRoot } from '../cluster/cluster.js';
import { applyYaml, loadKubeConfig, statusCode, waitFor } from './kube.js';
import { gitopsHealth, waitForHealth } from './gitops.js';
import { condition, readMd } from './md.js';
import { startOperatorInNamespace, stopOperatorInNamespace, type OperatorProcess } from './operator.harness.js';
import { formatModelFailure } from '../../contract/model-source.js';

/** Per-test deadline (ESM jest has no global jest.setTimeout); waits inside poll with their own. */
const TIMEOUT = 300_000;
const WAIT = 120_000;

const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The Node this file plays the kubelet for. */
const NODE = `problems-${randomBytes(3).toString('hex')}`;

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

interface MD {
  metadata: { generation: number };
  status?: { observedGeneration?: number; conditions?: Condition[] };
}

let ns: string;
let op: OperatorProcess | undefined;
/** kwok nodes this file cordoned (only those that were schedulable before), to uncordon after. */
const cordoned: string[] = [];

const getMd = (name: string): Promise<MD> => readMd(custom, ns, name);

/** Waits until the ModelDeployment's conditions at its current generation satisfy accept, and returns them. */
async function waitConditions(
  name: string,
  what: string,
  accept: (ready: Condition, stalled: Condition) => boolean,
): Promise<{ ready: Condition; stalled: Condition }> {
  let last: Condition[] | undefined;
  try {
    return await waitFor(
      `ModelDeployment ${ns}/${name}: ${what}`,
      async () => {
        const md = await getMd(name);
        last = md.status?.conditions;
        const ready = condition(md, 'Ready');
        const stalled = condition(md, 'Stalled');
        if (md.status?.observedGeneration !== md.metadata.generation || !ready || !stalled) return undefined;
        return accept(ready, stalled) ? { ready, stalled } : undefined;
      },
      WAIT,
      500,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last conditions: ${JSON.stringify(last)}`, { cause: err });
  }
}

/** digits.yaml with one replica under a new name, optionally with another server image. */
function digits(name: string, image?: string): string {
  const md = parse(readFileSync(join(repoRoot(), 'examples/digits.yaml'), 'utf8')) as {
    metadata: { name: string };
    spec: { replicas: number; server: Record<string, unknown> };
  };
  md.metadata.name = name;
  md.spec.replicas = 1;
  if (image) md.spec.server.image = image;
  return stringify(md);
}

/**
 * The one server pod of ModelDeployment name, once the scheduler bound it to NODE. Its router pods
 * land on NODE too: they are reported Ready (as NODE's kubelet would), since the ModelDeployment is
 * Ready only with a router in front of its stable revision.
 */
async function podOnNode(name: string): Promise<V1Pod> {
  const routers = await waitFor(
    `router pods of ModelDeployment ${ns}/${name} bound to Node ${NODE}`,
    async () => {
      const pods = (
        await core.listNamespacedPod({
          namespace: ns,
          labelSelector: `modelship.dev/deployment=${name},app.kubernetes.io/component=router`,
        })
      ).items;
      return pods.length === 2 && pods.every((p) => p.spec?.nodeName === NODE) ? pods : undefined;
    },
    WAIT,
    500,
  );
  for (const router of routers) await reportPod(router, true, [running(router)]);
  return waitFor(
    `pod of ModelDeployment ${ns}/${name} bound to Node ${NODE}`,
    async () => {
      const pods = (
        await core.listNamespacedPod({
          namespace: ns,
          labelSelector: `modelship.dev/deployment=${name},app.kubernetes.io/component=server`,
        })
      ).items;
      const pod = pods.length === 1 ? pods[0] : undefined;
      if (pod && pod.spec?.nodeName && pod.spec.nodeName !== NODE)
        throw new Error(
          `pod ${ns}/${pod.metadata!.name} was bound to ${pod.spec.nodeName}, not ${NODE}: cordoning failed`,
        );
      if (pod?.spec?.nodeName === NODE) return pod;
      const scheduled = pod?.status?.conditions?.find((c) => c.type === 'PodScheduled');
      throw new Error(`not bound yet: ${scheduled?.message ?? 'no PodScheduled condition'}`);
    },
    WAIT,
    500,
  );
}

/** Writes pod status as NODE's kubelet would: phase, Ready condition and the container statuses. */
async function reportPod(pod: V1Pod, ready: boolean, containerStatuses: Record<string, unknown>[]): Promise<void> {
  const now = new Date().toISOString();
  const status = {
    phase: 'Running',
    hostIP: '127.0.0.1',
    podIP: '10.0.0.7',
    startTime: pod.status?.startTime ?? now,
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
      { type: 'Initialized', status: 'True', lastTransitionTime: now },
      {
        type: 'ContainersReady',
        status: ready ? 'True' : 'False',
        reason: ready ? undefined : 'ContainersNotReady',
        lastTransitionTime: now,
      },
      {
        type: 'Ready',
        status: ready ? 'True' : 'False',
        reason: ready ? undefined : 'ContainersNotReady',
        lastTransitionTime: now,
      },
    ],
    containerStatuses,
  };
  await core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: ns, body: { status } }, mergePatch);
}

/** The status of a container that runs and passes its readiness probe. */
function running(pod: V1Pod, restartCount = 0): Record<string, unknown> {
  const c = pod.spec!.containers[0]!;
  return {
    name: c.name,
    image: c.image,
    imageID: '',
    ready: true,
    started: true,
    restartCount,
    state: { running: { startedAt: new Date().toISOString() } },
  };
}

/**
 * The status of a container in CrashLoopBackOff (`backoff` is the kubelet's current delay) whose last run
 * ended as `terminated` says (exit code, reason, message).
 */
function crashLooping(
  pod: V1Pod,
  restartCount: number,
  backoff: string,
  terminated: Record<string, unknown>,
): Record<string, unknown> {
  const c = pod.spec!.containers[0]!;
  const finishedAt = new Date().toISOString();
  return {
    name: c.name,
    image: c.image,
    imageID: '',
    ready: false,
    started: false,
    restartCount,
    state: {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${backoff} restarting failed container=${c.name} pod=${pod.metadata!.name}_${ns}`,
      },
    },
    lastState: { terminated: { startedAt: finishedAt, finishedAt, ...terminated } },
  };
}

/** Reports the pod Ready (its container running after `restartCount` restarts) and waits until the problem clears. */
async function recovers(name: string, pod: V1Pod, restartCount = 0): Promise<{ ready: Condition; stalled: Condition }> {
  await reportPod(pod, true, [running(pod, restartCount)]);
  return waitConditions(name, 'Ready=True, Stalled=False', (r, s) => r.status === 'True' && s.status === 'False');
}

beforeAll(async () => {
  ({ ns, op } = await startOperatorInNamespace(kc, 'problems'));

  const room = { cpu: '8', memory: '32Gi', pods: '110' };
  await core.createNode({
    body: { metadata: { name: NODE, labels: { type: 'problems', 'kubernetes.io/hostname': NODE } } },
  });
  await core.patchNodeStatus(
    {
      name: NODE,
      body: {
        status: {
          capacity: room,
          allocatable: room,
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'KubeletReady',
              message: 'played by problems.test.ts',
              lastHeartbeatTime: new Date().toISOString(),
              lastTransitionTime: new Date().toISOString(),
            },
          ],
          addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
        },
      },
    },
    mergePatch,
  );
  // The TaintNodesByCondition admission plugin taints every new Node not-ready, and no node
  // lifecycle controller runs here to lift it once the Node is Ready.
  await core.patchNode({ name: NODE, body: { spec: { taints: null } } }, mergePatch);
  const nodes: V1Node[] = (await core.listNode()).items;
  for (const node of nodes) {
    if (node.metadata?.annotations?.[kwokNodeAnnotation] !== 'fake' || node.spec?.unschedulable) continue;
    await core.patchNode({ name: node.metadata.name!, body: { spec: { unschedulable: true } } }, mergePatch);
    cordoned.push(node.metadata.name!);
  }
  // The scheduler learns of the cordons and of NODE from its informers, a moment later: until then
  // a ModelDeployment's pods may still go to a kwok node (seen once, 400 ms after the cordons).
  // A probe pod placed on NODE shows the scheduler's view has caught up.
  await waitFor(
    `the scheduler to place new pods on ${NODE} only`,
    async () => {
      const name = `probe-${randomBytes(3).toString('hex')}`;
      await core.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name }, spec: { containers: [{ name: 'probe', image: 'registry.k8s.io/pause:3.10.1' }] } },
      });
      const node = await waitFor(
        `probe pod ${ns}/${name} bound`,
        async () => (await core.readNamespacedPod({ namespace: ns, name })).spec?.nodeName,
        WAIT,
        100,
      );
      await core.deleteNamespacedPod({ namespace: ns, name, gracePeriodSeconds: 0 });
      return node === NODE;
    },
    WAIT,
    200,
  );
}, TIMEOUT);

afterAll(async () => {
  const failures: unknown[] = [];
  const attempt = async (step: () => Promise<unknown>): Promise<void> => {
    try {
      await step();
    } catch (err) {
      failures.push(err);
    }
  };
  for (const name of cordoned)
    await attempt(() => core.patchNode({ name, body: { spec: { unschedulable: false } } }, mergePatch));
  await attempt(async () => {
    try {
      await core.deleteNode({ name: NODE });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  });
  let code: number | null | undefined;
  await attempt(async () => (code = await stopOperatorInNamespace(kc, { ns, op })));
  expect(failures).toEqual([]);
  // A clean SIGTERM exit is part of the contract (graceful shutdown).
  expect(code).toBe(0);
}, TIMEOUT);

describe('pod problems in ModelDeployment status', () => {
  it(
    'reports a model server that crash-loops on a digest mismatch as ModelVerificationFailed, and clears it once the pod is Ready',
    async () => {
      await applyYaml(kc, digits('digest'), ns);
      const pod = await podOnNode('digest');
      // Bound but not started yet: starting is not a problem.
      await waitConditions(
        'digest',
        'Ready=False Starting, Stalled=False',
        (ready, stalled) => ready.status === 'False' && ready.reason === 'Starting' && stalled.status === 'False',
      );

      const container = pod.spec!.containers[0]!;
      // As the server words it (contract/model-source.ts formatModelFailure); status shows it after the reason.
      const said =
        'model file:///models/digits.onnx: sha256 mismatch: expected 6b6a5e14b0723a58f14c5cf4cbd390121cbcf7c93fffc3a5022016fc4370bbe6, got 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0';
      const termination = formatModelFailure('ModelVerificationFailed', said);
      await reportPod(pod, false, [
        crashLooping(pod, 3, '40s', {
          exitCode: 1,
          reason: 'Error',
          message: termination,
          containerID: 'containerd://0123abcd',
        }),
      ]);
      const { ready, stalled } = await waitConditions(
        'digest',
        'Stalled=True ModelVerificationFailed',
        (_r, s) => s.status === 'True',
      );
      expect(stalled.reason).toBe('ModelVerificationFailed');
      expect(stalled.message).toContain(`pod ${ns}/${pod.metadata!.name} container ${container.name}`);
      expect(stalled.message).toContain(said);
      expect(ready).toMatchObject({ status: 'False', reason: 'ModelVerificationFailed' });
      expect(ready.message).toContain(said);
      // Argo CD and Flux show the failure with its cause.
      expect(await gitopsHealth([await getMd('digest')])).toEqual([
        {
          argocd: { status: 'Degraded', message: expect.stringContaining('ModelVerificationFailed') },
          kstatus: expect.objectContaining({ status: 'Failed', message: expect.stringContaining(said) }),
        },
      ]);

      const fixed = await recovers('digest', pod, 4);
      expect(fixed.stalled.reason).toBe('NoProblems');
      expect(fixed.ready.reason).toBe('Available');
      await waitForHealth('digest, recovered', () => getMd('digest'), 'Healthy', 'Current');
    },
    TIMEOUT,
  );

  it(
    'reports a server killed again and again for memory as CrashLoopBackOff with exit code and reason',
    async () => {
      await applyYaml(kc, digits('oom'), ns);
      const pod = await podOnNode('oom');
      const container = pod.spec!.containers[0]!;
      await reportPod(pod, false, [
        crashLooping(pod, 5, '2m40s', { exitCode: 137, reason: 'OOMKilled', containerID: 'containerd://4567cdef' }),
      ]);
      const { ready, stalled } = await waitConditions(
        'oom',
        'Stalled=True CrashLoopBackOff',
        (_r, s) => s.status === 'True',
      );
      expect(stalled.reason).toBe('CrashLoopBackOff');
      expect(stalled.message).toContain(
        `pod ${ns}/${pod.metadata!.name} container ${container.name} keeps crashing: exit code 137 (OOMKilled)`,
      );
      expect(ready).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff' });

      const fixed = await recovers('oom', pod, 6);
      expect(fixed.stalled.reason).toBe('NoProblems');
    },
    TIMEOUT,
  );

  it(
    'reports an image that cannot be pulled as ImagePullFailed naming the image, and clears it once the pod is Ready',
    async () => {
      const image = 'ghcr.io/modelship/modelship:no-such-tag';
      await applyYaml(kc, digits('badimage', image), ns);
      const pod = await podOnNode('badimage');
      const container = pod.spec!.containers[0]!;
      expect(container.image).toBe(image);

      const pullError = `failed to pull and unpack image "${image}": failed to resolve reference "${image}": ghcr.io/modelship/modelship:no-such-tag: not found`;
      const waiting = (reason: string, message: string): Record<string, unknown> => ({
        name: container.name,
        image,
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason, message } },
      });
      await reportPod(pod, false, [waiting('ErrImagePull', pullError)]);
      const first = await waitConditions(
        'badimage',
        'Stalled=True ImagePullFailed (ErrImagePull)',
        (_r, s) => s.status === 'True' && s.message.includes('ErrImagePull'),
      );
      expect(first.stalled.reason).toBe('ImagePullFailed');
      expect(first.stalled.message).toContain(`ErrImagePull for image ${image}`);
      // The kubelet's own words follow; a long one loses its middle, never its cause at the end.
      expect(first.stalled.message).toContain(`ErrImagePull for image ${image}: failed to pull`);
      expect(first.stalled.message).toMatch(/: not found$/);
      expect(first.ready).toMatchObject({ status: 'False', reason: 'ImagePullFailed' });

      // The kubelet then backs off; the condition follows the newer report.
      await reportPod(pod, false, [waiting('ImagePullBackOff', `Back-off pulling image "${image}"`)]);
      const backoff = await waitConditions(
        'badimage',
        'Stalled=True ImagePullFailed (ImagePullBackOff)',
        (_r, s) => s.status === 'True' && s.message.includes('ImagePullBackOff'),
      );
      expect(backoff.stalled.reason).toBe('ImagePullFailed');
      expect(backoff.stalled.message).toContain(
        `ImagePullBackOff for image ${image}: Back-off pulling image "${image}"`,
      );
      expect(backoff.ready).toMatchObject({ status: 'False', reason: 'ImagePullFailed' });

      const fixed = await recovers('badimage', pod);
      expect(fixed.stalled.reason).toBe('NoProblems');
    },
    TIMEOUT,
  );
});
