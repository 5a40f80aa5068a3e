/**
 * The Helm chart: its CRD is the top-level one, it lints, it renders to objects that validate
 * strictly against the cluster's own API schemas (kubeconform, offline), its values schema rejects
 * mistakes, and `helm install` on the local control plane brings the operator Deployment to
 * Available (kwok runs the pods).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AppsV1Api,
  RbacAuthorizationV1Api,
  type V1DaemonSet,
  type V1Deployment,
  type V1Service,
} from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { adminRequest, binDir, repoRoot } from '../cluster/cluster.js';
import { createTestNamespace, deleteNamespace, clusterInfo, loadKubeConfig, waitFor } from './kube.js';
import { writeKubeconformSchemas } from './helm.schemas.js';

/** Per-test deadline (ESM jest has no global jest.setTimeout); waits inside poll with their own. */
const TIMEOUT = 300_000;

const run = promisify(execFile);
const root = repoRoot();
const chart = join(root, 'charts/modelship');
const helm = join(binDir(), 'helm');
const kubeconform = join(binDir(), 'kubeconform');
const schemaDir = join(root, '.state/kubeconform');
const kc = loadKubeConfig();
/** The cluster's version, so `helm template` checks the chart's kubeVersion against the real one. */
let kubeVersion = '';

/** Runs a binary; resolves with its output, rejects with the output in the message. */
async function sh(bin: string, args: string[], input?: string): Promise<string> {
  const env = {
    ...process.env,
    KUBECONFIG: clusterInfo().kubeconfig,
    HELM_CACHE_HOME: join(root, '.state/helm/cache'),
    HELM_CONFIG_HOME: join(root, '.state/helm/config'),
    HELM_DATA_HOME: join(root, '.state/helm/data'),
  };
  if (input === undefined) {
    const { stdout, stderr } = await run(bin, args, { env, maxBuffer: 64 << 20 });
    return stdout + stderr;
  }
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err
        ? reject(new Error(`${bin} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`))
        : resolve(stdout + stderr),
    );
    child.stdin!.end(input);
  });
}

/** `helm template` of the chart as release `ms` in modelship-system, for the cluster's version, with `args`. */
function template(...args: string[]): Promise<string> {
  return sh(helm, ['template', 'ms', chart, '--kube-version', kubeVersion, '--namespace', 'modelship-system', ...args]);
}

beforeAll(async () => {
  for (const bin of [helm, kubeconform])
    if (!existsSync(bin)) throw new Error(`${bin} missing: run make cluster-build`);
  const version = await adminRequest(clusterInfo(), 'GET', '/version');
  kubeVersion = (JSON.parse(version.body) as { gitVersion: string }).gitVersion;
  const n = await writeKubeconformSchemas(clusterInfo(), schemaDir);
  expect(n).toBeGreaterThan(50);
}, TIMEOUT);

describe('Helm chart', () => {
  it(
    'ships the same CRD as crds/',
    () => {
      const chartCrd = readFileSync(join(chart, 'crds/modeldeployments.modelship.dev.yaml'), 'utf8');
      const topCrd = readFileSync(join(root, 'crds/modeldeployments.modelship.dev.yaml'), 'utf8');
      // Out of date? `make chart-crd` copies it.
      expect(chartCrd).toBe(topCrd);
    },
    TIMEOUT,
  );

  it(
    'passes helm lint --strict',
    async () => {
      const out = await sh(helm, ['lint', '--strict', chart]);
      expect(out).toContain('0 chart(s) failed');
    },
    TIMEOUT,
  );

  it.each([
    ['defaults (all namespaces, leader election)', []],
    [
      'one namespace, no leader election, metrics service off',
      [
        '--set',
        'operator.watchNamespace=ml',
        '--set',
        'operator.leaderElection.enabled=false',
        '--set',
        'metrics.service.enabled=false',
        '--set',
        'replicaCount=1',
      ],
    ],
    [
      'a node cache with its own directory, size and tolerations',
      [
        '--set',
        'nodeCache.hostPath=/mnt/models',
        '--set',
        'nodeCache.maxSize=0',
        '--set',
        'nodeCache.tolerations[0].operator=Exists',
      ],
    ],
  ])(
    'renders %s to objects valid against the cluster schemas (kubeconform -strict, offline)',
    async (_name, args) => {
      const rendered = await template('--include-crds', ...args);
      const out = await sh(
        kubeconform,
        ['-strict', '-summary', '-schema-location', `${schemaDir}/{{ .ResourceKind }}{{ .KindSuffix }}.json`, '-'],
        rendered,
      );
      // Every object was validated: none invalid, none skipped for a missing schema.
      expect(out).toMatch(/Valid: [1-9]\d*, Invalid: 0, Errors: 0, Skipped: 0/);
    },
    TIMEOUT,
  );

  it(
    "renders the node cache: an agent per node on a hostPath, reached on the pod's own node only, whose URL the operator gets",
    async () => {
      const objects = (await template())
        .split('\n---')
        .flatMap((doc) =>
          parseAllDocuments(doc).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } }),
        );
      const ds = objects.find((o) => o.kind === 'DaemonSet') as V1DaemonSet;
      const service = objects.find((o) => o.metadata?.name === 'ms-modelship-node-cache') as V1Service;
      const operator = objects.find((o) => o.kind === 'Deployment') as V1Deployment;
      expect(service.spec).toMatchObject({
        internalTrafficPolicy: 'Local',
        ports: [{ port: 8090, targetPort: 'http' }],
      });
      const pod = ds.spec!.template.spec!;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.volumes).toContainEqual({
        name: 'models',
        hostPath: { path: '/var/lib/modelship/models', type: 'DirectoryOrCreate' },
      });
      const agent = pod.containers[0]!;
      expect(agent.env).toContainEqual({ name: 'MODELSHIP_MODE', value: 'cache' });
      expect(agent.env).toContainEqual({ name: 'MODELSHIP_CACHE_MAX_BYTES', value: '50Gi' });
      expect(agent.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      // Only the init container that hands the directory to the agent's uid runs as root, with CAP_CHOWN alone.
      expect(pod.initContainers![0]!.securityContext!.capabilities).toEqual({ drop: ['ALL'], add: ['CHOWN'] });
      expect(operator.spec!.template.spec!.containers[0]!.env).toContainEqual({
        name: 'MODELSHIP_NODE_CACHE_URL',
        value: 'http://ms-modelship-node-cache.modelship-system.svc:8090',
      });

      const off = await template('--set', 'nodeCache.enabled=false');
      expect(off).not.toContain('DaemonSet');
      expect(off).not.toContain('MODELSHIP_NODE_CACHE_URL');
    },
    TIMEOUT,
  );

  it(
    "renders the monitoring: the dashboard for Grafana's sidecar, the rules with the SLO from values, PodMonitors for model servers and routers",
    async () => {
      const rendered = await template(
        '--set',
        'monitoring.prometheusRule.enabled=true',
        '--set-json',
        'monitoring.prometheusRule.slo=0.99',
        '--set',
        'monitoring.podMonitors.enabled=true',
        '--set',
        'monitoring.podMonitors.interval=15s',
      );
      const objects = parseAllDocuments(rendered).map(
        (d) =>
          d.toJS() as {
            kind?: string;
            metadata: { name: string; labels?: Record<string, string> };
            [k: string]: unknown;
          },
      );
      const dashboard = objects.find((o) => o.metadata?.name === 'ms-modelship-dashboard') as unknown as {
        metadata: { labels: Record<string, string> };
        data: Record<string, string>;
      };
      expect(dashboard.metadata.labels.grafana_dashboard).toBe('1');
      expect(JSON.parse(dashboard.data['modelship.json']!)).toEqual(
        JSON.parse(readFileSync(join(chart, 'dashboards/modelship.json'), 'utf8')),
      );

      // The rules file's groups, the error budget at 1 - 0.99 instead of the file's 1 - 0.999.
      const rule = objects.find((o) => o.kind === 'PrometheusRule') as unknown as { spec: unknown };
      const file = readFileSync(join(chart, 'rules/modelship.rules.yaml'), 'utf8');
      expect(rule.spec).toEqual(parse(file.replaceAll('(1 - 0.999)', '(1 - 0.99)')));
      expect(JSON.stringify(rule.spec)).not.toContain('0.999');
      expect(JSON.stringify(rule.spec)).toContain('14.4 * (1 - 0.99)');

      const monitors = objects.filter((o) => o.kind === 'PodMonitor') as unknown as {
        metadata: { name: string };
        spec: { selector: unknown; podMetricsEndpoints: { port: string; interval: string }[] };
      }[];
      expect(monitors.map((m) => [m.metadata.name, m.spec.selector, m.spec.podMetricsEndpoints[0]!.port])).toEqual([
        [
          'ms-modelship-servers',
          { matchLabels: { 'app.kubernetes.io/managed-by': 'modelship', 'app.kubernetes.io/component': 'server' } },
          'metrics',
        ],
        [
          'ms-modelship-routers',
          { matchLabels: { 'app.kubernetes.io/managed-by': 'modelship', 'app.kubernetes.io/component': 'router' } },
          'metrics',
        ],
      ]);
      expect(monitors.every((m) => m.spec.podMetricsEndpoints[0]!.interval === '15s')).toBe(true);

      // kubeconform knows no Prometheus operator schemas here: it checks everything else and skips those.
      const out = await sh(
        kubeconform,
        [
          '-strict',
          '-summary',
          '-skip',
          'PodMonitor,PrometheusRule',
          '-schema-location',
          `${schemaDir}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
          '-',
        ],
        rendered,
      );
      expect(out).toMatch(/Valid: [1-9]\d*, Invalid: 0, Errors: 0, Skipped: 3/);

      const off = await template('--set', 'monitoring.grafanaDashboard.enabled=false');
      expect(off).not.toContain('ms-modelship-dashboard');
      expect(off).not.toContain('PodMonitor');
      expect(off).not.toContain('PrometheusRule');
    },
    TIMEOUT,
  );

  it(
    'renders without --kube-version, as a GitOps tool with no cluster at hand runs it: helm knows its Kubernetes version',
    async () => {
      const rendered = await sh(helm, ['template', 'ms', chart, '--namespace', 'modelship-system']);
      expect(rendered).toContain('kind: Deployment');
    },
    TIMEOUT,
  );

  it(
    'catches a wrong field with kubeconform (the check can fail)',
    async () => {
      const rendered = await template();
      const broken = rendered.replace(
        'terminationGracePeriodSeconds: 30',
        'terminationGracePeriodSeconds: 30\n      terminationGraceSeconds: 30',
      );
      await expect(
        sh(
          kubeconform,
          ['-strict', '-schema-location', `${schemaDir}/{{ .ResourceKind }}{{ .KindSuffix }}.json`, '-'],
          broken,
        ),
      ).rejects.toThrow(/terminationGraceSeconds/);
    },
    TIMEOUT,
  );

  it.each([
    [['--set', 'replicaCount=-1'], 'replicaCount'],
    [['--set', 'operator.logLevel=loud'], 'logLevel'],
    [['--set', 'metrics.port=80'], 'port'],
    [['--set', 'operator.watchNamespace=Not_A_Namespace'], 'watchNamespace'],
    [['--set', 'imagee.tag=x'], 'imagee'],
    [['--set', 'nodeCache.maxSize=lots'], 'maxSize'],
    [['--set', 'nodeCache.hostPath=relative/dir'], 'hostPath'],
    [['--set-json', 'monitoring.prometheusRule.slo=1.5'], 'slo'],
    [['--set', 'monitoring.podMonitors.interval=soon'], 'interval'],
  ])(
    'values schema rejects %j',
    async (args, field) => {
      await expect(sh(helm, ['template', 'ms', chart, '--kube-version', kubeVersion, ...args])).rejects.toThrow(
        new RegExp(field),
      );
    },
    TIMEOUT,
  );

  it(
    'installs onto the local cluster and the operator Deployment becomes Available',
    async () => {
      const ns = await createTestNamespace(kc, 'helm');
      const release = ns.replace(/^e2e-/, '');
      try {
        await sh(helm, ['install', release, chart, '--namespace', ns, '--set', 'image.tag=e2e']);
        const apps = kc.makeApiClient(AppsV1Api);
        const d = await waitFor(
          'operator Deployment Available with 2 ready replicas',
          async () => {
            const dep = await apps.readNamespacedDeployment({ namespace: ns, name: `${release}-modelship` });
            const available = dep.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
            return available && dep.status?.readyReplicas === 2 ? dep : undefined;
          },
          180_000,
          1000,
        );
        const pod = d.spec!.template.spec!;
        expect(pod.serviceAccountName).toBe(`${release}-modelship`);
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
        expect(pod.containers[0]!.securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
        const role = await rbac.readClusterRole({ name: `${release}-modelship` });
        // Least privilege: no wildcards, no secrets, no update on ModelDeployments' spec.
        expect(JSON.stringify(role.rules)).not.toContain('*');
        expect(JSON.stringify(role.rules)).not.toContain('secrets');
        expect(role.rules!.find((r) => r.resources!.includes('modeldeployments'))!.verbs).toEqual(['list', 'watch']);
        // The lease role exists in the release namespace only.
        const leaseRole = await rbac.readNamespacedRole({
          namespace: ns,
          name: `${release}-modelship-leader-election`,
        });
        expect(leaseRole.rules!.some((r) => r.resources!.includes('leases'))).toBe(true);
      } finally {
        await sh(helm, ['uninstall', release, '--namespace', ns]).catch(() => '');
        await deleteNamespace(kc, ns);
      }
    },
    TIMEOUT,
  );
});
