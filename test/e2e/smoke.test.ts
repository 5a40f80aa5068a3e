/**
 * Smoke test of the local control plane: proves it is a real cluster (schema validation, controllers,
 * scheduling through kwok, garbage collection, RBAC, audit log, API server restart), so the
 * operator's e2e tests can rely on it.
 */
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

import { auditEvents, restartApiServer } from '../cluster/cluster.js';
import {
  applyYaml,
  clusterInfo,
  createTestNamespace,
  deleteNamespace,
  errorMessage,
  kubeConfigWithToken,
  loadKubeConfig,
  serviceAccountToken,
  statusCode,
  waitFor,
} from './kube.js';

const slow = 240_000;

/** Runs call, expecting it to fail; returns the error. */
async function rejection(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  throw new Error('expected the API call to be rejected, but it succeeded');
}

const widgetCrd = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.smoke.modelship.io
spec:
  group: smoke.modelship.io
  scope: Namespaced
  names: { kind: Widget, listKind: WidgetList, plural: widgets, singular: widget }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [replicas]
              properties:
                replicas: { type: integer, minimum: 1, maximum: 10 }
                color: { type: string, enum: [red, blue] }
`;

const deploymentYaml = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: smoke
spec:
  replicas: 2
  selector:
    matchLabels: { app: smoke }
  template:
    metadata:
      labels: { app: smoke }
    spec:
      containers:
        - name: main
          image: registry.invalid/modelship/smoke:1
          resources:
            requests: { cpu: 100m, memory: 64Mi }
`;

describe('local control plane', () => {
  let kc: KubeConfig;
  let ns: string;

  beforeAll(async () => {
    kc = loadKubeConfig();
    ns = await createTestNamespace(kc, 'smoke');
  }, slow);

  afterAll(async () => {
    if (ns) await deleteNamespace(kc, ns);
  }, slow);

  it(
    'enforces a CRD schema, rejecting an invalid object and naming the field',
    async () => {
      await applyYaml(kc, widgetCrd);
      const custom = kc.makeApiClient(CustomObjectsApi);
      const create = (name: string, spec: object): Promise<unknown> =>
        custom.createNamespacedCustomObject({
          group: 'smoke.modelship.io',
          version: 'v1',
          namespace: ns,
          plural: 'widgets',
          body: { apiVersion: 'smoke.modelship.io/v1', kind: 'Widget', metadata: { name }, spec },
        });

      // The CRD's REST endpoint appears asynchronously after the CRD is Established.
      const invalid = await waitFor(
        'widgets endpoint to serve',
        async () => {
          const err = await rejection(() => create('too-many', { replicas: 11, color: 'red' }));
          return statusCode(err) === 404 ? undefined : err;
        },
        60_000,
      );
      expect(statusCode(invalid)).toBe(422);
      expect(errorMessage(invalid)).toContain('spec.replicas');

      const badEnum = await rejection(() => create('green', { replicas: 1, color: 'green' }));
      expect(statusCode(badEnum)).toBe(422);
      expect(errorMessage(badEnum)).toContain('spec.color');

      await create('good', { replicas: 3, color: 'blue' });

      // A brand-new CRD and an object of its kind in one stream: applyYaml waits for the kind to be served.
      const gadgetCrd = widgetCrd.replace(/widget/g, 'gadget').replace(/Widget/g, 'Gadget');
      await applyYaml(
        kc,
        `${gadgetCrd}\n---\napiVersion: smoke.modelship.io/v1\nkind: Gadget\nmetadata: { name: applied }\nspec: { replicas: 2 }\n`,
        ns,
      );
      const gadget = (await custom.getNamespacedCustomObject({
        group: 'smoke.modelship.io',
        version: 'v1',
        namespace: ns,
        plural: 'gadgets',
        name: 'applied',
      })) as { spec: { replicas: number } };
      expect(gadget.spec.replicas).toBe(2);
      const stored = (await custom.getNamespacedCustomObject({
        group: 'smoke.modelship.io',
        version: 'v1',
        namespace: ns,
        plural: 'widgets',
        name: 'good',
      })) as { spec: { replicas: number } };
      expect(stored.spec.replicas).toBe(3);
    },
    slow,
  );

  it(
    'schedules a Deployment onto kwok nodes and reports it Available; GC removes its dependents on delete',
    async () => {
      const apps = kc.makeApiClient(AppsV1Api);
      const core = kc.makeApiClient(CoreV1Api);
      await applyYaml(kc, deploymentYaml, ns);

      const deployment = await waitFor(
        'Deployment smoke to be Available with 2 ready replicas',
        async () => {
          const d = await apps.readNamespacedDeployment({ name: 'smoke', namespace: ns });
          const available = d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
          return available && d.status?.readyReplicas === 2 ? d : undefined;
        },
        180_000,
        500,
      );
      expect(deployment.status?.availableReplicas).toBe(2);

      const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=smoke' })).items;
      expect(pods).toHaveLength(2);
      for (const pod of pods) {
        expect(clusterInfo().nodes).toContain(pod.spec?.nodeName);
        expect(pod.status?.phase).toBe('Running');
        expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      }
      const replicaSets = (await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=smoke' })).items;
      expect(replicaSets).toHaveLength(1);
      expect(replicaSets[0].metadata?.ownerReferences?.[0]).toMatchObject({
        kind: 'Deployment',
        name: 'smoke',
        uid: deployment.metadata?.uid,
      });

      await apps.deleteNamespacedDeployment({ name: 'smoke', namespace: ns, propagationPolicy: 'Background' });
      await waitFor(
        'garbage collector to delete the ReplicaSet and Pods of Deployment smoke',
        async () => {
          const rs = await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=smoke' });
          const po = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=smoke' });
          return rs.items.length === 0 && po.items.length === 0;
        },
        180_000,
        500,
      );
    },
    slow * 2,
  );

  it(
    'denies a ServiceAccount without a permission, allows it after a RoleBinding, and audits its writes',
    async () => {
      const core = kc.makeApiClient(CoreV1Api);
      await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'viewer' } } });
      const viewer = kubeConfigWithToken(kc, await serviceAccountToken(kc, ns, 'viewer'), 'viewer').makeApiClient(
        CoreV1Api,
      );
      const viewerName = `system:serviceaccount:${ns}:viewer`;

      const denied = await rejection(() => viewer.listNamespacedPod({ namespace: ns }));
      expect(statusCode(denied)).toBe(403);
      expect(errorMessage(denied)).toContain(viewerName);

      await applyYaml(
        kc,
        `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: pod-reader }
rules:
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: viewer-reads-pods }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader }
subjects:
  - { kind: ServiceAccount, name: viewer, namespace: ${ns} }
`,
        ns,
      );
      await waitFor(
        'RoleBinding to let viewer list pods',
        () => viewer.listNamespacedPod({ namespace: ns }).then(() => true),
        60_000,
      );

      // Only what was granted: writing is still forbidden, and the refused write is in the audit log.
      const since = new Date(Date.now() - 1_000);
      const write = await rejection(() =>
        viewer.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'nope' } } }),
      );
      expect(statusCode(write)).toBe(403);
      const audited = await waitFor(
        'audit event of the refused ConfigMap create',
        () => {
          const events = auditEvents({
            user: viewerName,
            verbs: ['create'],
            resource: 'configmaps',
            namespace: ns,
            since,
          });
          return events.length > 0 ? events : undefined;
        },
        30_000,
      );
      expect(audited).toHaveLength(1);
      expect(audited[0].responseStatus?.code).toBe(403);
      expect(
        auditEvents({
          user: viewerName,
          verbs: ['create', 'update', 'patch', 'delete'],
          namespace: ns,
          succeededOnly: true,
        }),
      ).toEqual([]);
    },
    slow,
  );

  it(
    'restarts kube-apiserver on the same address with its data intact',
    async () => {
      const core = kc.makeApiClient(CoreV1Api);
      await core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name: 'survivor' }, data: { k: 'v' } },
      });
      const before = clusterInfo();
      const oldPid = before.processes.find((p) => p.name === 'kube-apiserver')?.pid;

      const after = await restartApiServer();

      expect(after.server).toBe(before.server);
      expect(after.processes.find((p) => p.name === 'kube-apiserver')?.pid).not.toBe(oldPid);
      const cm = await waitFor(
        'ConfigMap survivor readable after the restart',
        () => core.readNamespacedConfigMap({ name: 'survivor', namespace: ns }),
        60_000,
      );
      expect(cm.data).toEqual({ k: 'v' });
    },
    slow,
  );
});
