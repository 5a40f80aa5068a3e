/**
 * The real node: pods really run on it. In order (each step uses what the one before made): the node
 * became Ready through the node-lifecycle controller; an agnhost Deployment is pulled through the
 * local registry and passes its readiness probe; its Service answers from the host and from another
 * pod, by ClusterIP and by cluster DNS; `kubectl logs`/`exec` go through the API server to an
 * authorizing kubelet, which refuses anonymous requests; an unserved ClusterIP fails at once on this
 * machine (never the outside proxy's 404); a rolling update replaces pods with SIGTERM delivered;
 * and all the while, no packet from or to a pod, Service or node address left by the default
 * route's interface (egress-watch.py). "Nothing left after down" is checked by globalTeardown.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { auditEvents } from '../cluster/cluster.js';
import { waitFor } from '../cluster/wait.js';
import { api, httpGet, kubectl, netexecContainer, nodeCluster, podReady, pods, type Pod } from './helpers.js';

/** Per-test deadline (ESM jest has no global jest.setTimeout); waits inside have their own. */
const T = 180_000;

const ns = `node-e2e-${Date.now().toString(36)}`;
const log = (m: string): void => {
  process.stderr.write(`e2e-node: ${m}\n`);
};

/** A ClusterIP in the Service range that no Service holds (checked against the live list). */
async function unusedClusterIp(): Promise<string> {
  const list = await api<{ items: { spec: { clusterIP?: string } }[] }>('GET', '/api/v1/services');
  const used = new Set(list.items.map((s) => s.spec.clusterIP));
  const ip = ['10.96.255.254', '10.96.254.253', '10.96.253.252'].find((c) => !used.has(c));
  if (!ip) throw new Error('pick an unused ClusterIP: all candidates are taken');
  return ip;
}

function webDeployment(revision: string): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: ns },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: 'web' }, annotations: { 'modelship.dev/revision': revision } },
        // A long grace period: a pod gone within seconds proves SIGTERM reached agnhost (it exits 2 s after it).
        spec: { terminationGracePeriodSeconds: 60, containers: [netexecContainer(2)] },
      },
    },
  };
}

let clientPod = '';
let webIp = '';

/** A TCP connect from inside `pod` (agnhost's `connect`, through `kubectl exec`): code 0 when it connected. */
function connectFrom(pod: string, target: string, timeout = '5s') {
  return kubectl(['-n', ns, 'exec', pod, '--', '/agnhost', 'connect', `--timeout=${timeout}`, target]);
}

/** The packet watch on the default route's interface (egress-watch.py), for the whole file. */
let egress: ChildProcessWithoutNullStreams | undefined;
let egressOut = '';

function defaultInterface(): string {
  const dev = /\bdev (\S+)/.exec(execFileSync('ip', ['-o', 'route', 'show', 'default']).toString())?.[1];
  if (!dev) throw new Error('find the default route interface: `ip route show default` names none');
  return dev;
}

beforeAll(async () => {
  const { realNode } = nodeCluster();
  egress = spawn('python3', [
    join(dirname(fileURLToPath(import.meta.url)), 'egress-watch.py'),
    defaultInterface(),
    realNode.podCidr,
    realNode.serviceCidr,
    `${realNode.ip}/32`,
  ]);
  egress.stdout.on('data', (c: Buffer) => (egressOut += c.toString()));
  egress.stderr.on('data', (c: Buffer) => (egressOut += c.toString()));
  await waitFor(
    'egress-watch.py to capture',
    () => egressOut.startsWith('ready\n') || (egress?.exitCode !== null && Promise.reject(new Error(egressOut))),
    10_000,
    50,
  );
  await api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, [201]);
  await waitFor(
    `ServiceAccount ${ns}/default`,
    async () =>
      ((await api('GET', `/api/v1/namespaces/${ns}/serviceaccounts`)) as { items: unknown[] }).items.length > 0,
    60_000,
  );
}, T);

afterAll(async () => {
  egress?.kill('SIGKILL');
  await api('DELETE', `/api/v1/namespaces/${ns}`, undefined, [200, 202, 404]);
}, T);

describe('real node', () => {
  it(
    'is Ready, with the not-ready taint lifted by the node-lifecycle controller (not by us)',
    async () => {
      const info = nodeCluster();
      const node = await api<{
        spec: { taints?: { key: string }[] };
        status: { conditions: { type: string; status: string }[]; addresses: { type: string; address: string }[] };
      }>('GET', `/api/v1/nodes/${info.realNode.name}`);
      expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect((node.spec.taints ?? []).map((t) => t.key)).not.toContain('node.kubernetes.io/not-ready');
      expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address: info.realNode.ip });
      // Only the controller (its own ServiceAccount: --use-service-account-credentials) wrote the node besides kubelet.
      const writers = new Set(
        auditEvents(
          { resource: 'nodes', name: info.realNode.name, verbs: ['update', 'patch'], succeededOnly: true },
          info.paths.dir,
        ).map((e) => e.user.username),
      );
      expect(writers).toContain('system:serviceaccount:kube-system:node-controller');
      expect(
        [...writers].filter(
          (u) => u !== 'system:serviceaccount:kube-system:node-controller' && u !== `system:node:${info.realNode.name}`,
        ),
      ).toEqual([]);
    },
    T,
  );

  it(
    'runs an agnhost Deployment pulled through the local registry, Ready by its probe',
    async () => {
      const info = nodeCluster();
      const started = Date.now();
      await api('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, webDeployment('1'), [201]);
      await api(
        'POST',
        `/api/v1/namespaces/${ns}/services`,
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web', namespace: ns },
          spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
        },
        [201],
      );
      await api(
        'POST',
        `/api/v1/namespaces/${ns}/pods`,
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'client', namespace: ns, labels: { app: 'client' } },
          spec: { terminationGracePeriodSeconds: 1, containers: [netexecContainer(0)] },
        },
        [201],
      );
      const [web] = await waitFor(
        'web pod Ready',
        async () => {
          const list = await pods(ns, 'app=web');
          return list.length === 1 && podReady(list[0]) && list;
        },
        120_000,
        250,
      );
      log(
        `first pod Running and Ready ${((Date.now() - started) / 1000).toFixed(1)}s after the Deployment was created`,
      );
      expect(web.spec.nodeName).toBe(info.realNode.name);
      expect(web.status.podIP).toMatch(/^10\.244\.0\./);
      clientPod = 'client';
      await waitFor(
        'client pod Ready',
        async () => podReady((await pods(ns, 'app=client'))[0] ?? ({ status: {} } as Pod)),
        120_000,
      );

      // The kubelet pulled it (imagePullPolicy Always), containerd through the mirror: the registry logged the manifest
      // GET.
      const events = await api<{ items: { reason: string; message: string; involvedObject: { name: string } }[] }>(
        'GET',
        `/api/v1/namespaces/${ns}/events`,
      );
      const pulled = events.items.filter((e) => e.involvedObject.name === web.metadata.name && e.reason === 'Pulled');
      expect(pulled.map((e) => e.message).join('\n')).toContain(
        `Successfully pulled image "${info.realNode.images.agnhost}"`,
      );
      const [repo, tag] = info.realNode.images.agnhost.split(':');
      const resolved = readFileSync(join(info.paths.logsDir, 'registry.log'), 'utf8')
        .split('\n')
        .filter(
          (l) => l.includes(`"HEAD /v2/${repo}/manifests/${tag}?ns=registry.k8s.io`) && l.includes('"containerd/'),
        );
      expect(resolved.length).toBeGreaterThan(0);
    },
    T,
  );

  it(
    'serves its Service ClusterIP to the host',
    async () => {
      const svc = await api<{ spec: { clusterIP: string } }>('GET', `/api/v1/namespaces/${ns}/services/web`);
      webIp = svc.spec.clusterIP;
      const [web] = await pods(ns, 'app=web');
      const res = await waitFor(
        'web Service from the host',
        async () => {
          const r = await httpGet(`http://${webIp}/hostname`);
          return r.status === 200 && r;
        },
        30_000,
      );
      expect(res.body).toBe(web.metadata.name);
    },
    T,
  );

  it(
    'serves its Service to another pod, by ClusterIP and by cluster DNS name',
    async () => {
      const [client] = await pods(ns, 'app=client');
      const [web] = await pods(ns, 'app=web');
      for (const host of [webIp, `web.${ns}.svc.cluster.local`]) {
        // netexec's /dial makes the client pod itself resolve and connect, and report what it got.
        const res = await httpGet(
          `http://${client.status.podIP}:8080/dial?request=hostname&protocol=http&host=${host}&port=80&tries=1`,
        );
        expect({ host, body: JSON.parse(res.body) as unknown }).toEqual({
          host,
          body: { responses: [web.metadata.name] },
        });
      }
      // The API server through the `kubernetes` Service (lease endpoint reconciler → node address).
      const r = await connectFrom(clientPod, 'kubernetes.default.svc.cluster.local:443');
      expect(r).toMatchObject({ code: 0, stderr: '' });
    },
    T,
  );

  it(
    'answers cluster DNS from a pod and the host, and REFUSED for names outside the cluster',
    async () => {
      const ok = await connectFrom(clientPod, `web.${ns}.svc.cluster.local:80`);
      expect(ok).toMatchObject({ code: 0, stderr: '' });
      const outside = await connectFrom(clientPod, 'example.com:80');
      expect(outside.code).not.toBe(0);
      expect(outside.stderr).toMatch(/^DNS: lookup example\.com/m);
      // The exact answers, asked of the cluster DNS directly.
      const resolver = new Resolver({ timeout: 2_000, tries: 1 });
      resolver.setServers([nodeCluster().realNode.clusterDns]);
      expect(await resolver.resolve4(`web.${ns}.svc.cluster.local`)).toEqual([webIp]);
      await expect(resolver.resolve4(`nothere.${ns}.svc.cluster.local`)).rejects.toMatchObject({ code: 'ENOTFOUND' });
      await expect(resolver.resolve4('example.com')).rejects.toMatchObject({ code: 'EREFUSED' });
    },
    T,
  );

  it(
    'gives logs and exec through the API server and the kubelet',
    async () => {
      const [web] = await pods(ns, 'app=web');
      const logs = await kubectl(['-n', ns, 'logs', web.metadata.name]);
      expect(logs.code).toBe(0);
      expect(logs.stdout).toContain('Started HTTP server on port 8080');
      const exec = await connectFrom(web.metadata.name, '127.0.0.1:8080', '2s');
      expect(exec).toMatchObject({ code: 0 });
    },
    T,
  );

  it(
    "refuses anonymous requests to the kubelet's port (401), and unauthorized ones (403)",
    async () => {
      const info = nodeCluster();
      const get = (headers: Record<string, string>): Promise<number> =>
        new Promise((resolve, reject) => {
          const req = httpsRequest(
            `https://${info.realNode.ip}:${info.realNode.ports.kubelet}/pods`,
            { ca: readFileSync(info.pki.ca.cert), headers, timeout: 5_000 },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', reject);
          req.end();
        });
      expect(await get({})).toBe(401);
      // A valid ServiceAccount token: authenticated by the kubelet's webhook, then denied by SubjectAccessReview.
      const token = await api<{ status: { token: string } }>(
        'POST',
        `/api/v1/namespaces/${ns}/serviceaccounts/default/token`,
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} },
        [201],
      );
      expect(await get({ authorization: `Bearer ${token.status.token}` })).toBe(403);
    },
    T,
  );

  it(
    'fails an unserved ClusterIP at once, from the host and from a pod, never reaching the outside proxy',
    async () => {
      const ip = await unusedClusterIp();
      const started = Date.now();
      const host = await httpGet(`http://${ip}/`, 5_000).then(
        (r) => `HTTP ${r.status}: ${r.body.slice(0, 100)}`,
        (err: NodeJS.ErrnoException) => `error: ${err.code ?? err.message}`,
      );
      const hostMs = Date.now() - started;
      expect(host).toBe('error: ECONNREFUSED');
      expect(hostMs).toBeLessThan(2_000);

      const fromPod = await connectFrom(clientPod, `${ip}:80`);
      expect(fromPod.stderr.split('\n')[0]).toBe('REFUSED');
      // And through netexec's /dial (an HTTP request from the pod): an error, no response, certainly no 404 page.
      const [client] = await pods(ns, 'app=client');
      const dialStarted = Date.now();
      const dial = await httpGet(
        `http://${client.status.podIP}:8080/dial?request=hostname&protocol=http&host=${ip}&port=80&tries=1`,
        10_000,
      );
      expect(Date.now() - dialStarted).toBeLessThan(3_000);
      const body = JSON.parse(dial.body) as { responses?: string[]; errors?: string[] };
      expect(body.responses ?? []).toEqual([]);
      expect(body.errors?.join('\n')).toMatch(/connection refused/);
      expect(dial.body).not.toMatch(/404/);
    },
    T,
  );

  it(
    'replaces pods in a rolling update, the old one stopping on SIGTERM well within its grace period',
    async () => {
      const [old] = await pods(ns, 'app=web');
      // Follow the old pod's log (API server → kubelet stream) to catch what it prints on SIGTERM.
      const info = nodeCluster();
      const follow = spawn(
        join(info.binDir, 'kubectl'),
        ['--kubeconfig', info.kubeconfig, '-n', ns, 'logs', '-f', old.metadata.name],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let followed = '';
      follow.stdout.on('data', (c: Buffer) => (followed += c.toString()));
      const followEnded = new Promise<void>((resolve) => follow.on('close', () => resolve()));
      try {
        await waitFor('kubectl logs -f to attach', () => followed.includes('Started HTTP server'), 30_000);
        const started = Date.now();
        await api(
          'PATCH',
          `/apis/apps/v1/namespaces/${ns}/deployments/web`,
          { spec: { template: { metadata: { annotations: { 'modelship.dev/revision': '2' } } } } },
          [200],
          'application/merge-patch+json',
        );
        const [fresh] = await waitFor(
          'the new pod Ready and the old one gone',
          async () => {
            const list = await pods(ns, 'app=web');
            return list.length === 1 && list[0].metadata.uid !== old.metadata.uid && podReady(list[0]) && list;
          },
          120_000,
          250,
        );
        const tookMs = Date.now() - started;
        log(`rolling update replaced ${old.metadata.name} by ${fresh.metadata.name} in ${(tookMs / 1000).toFixed(1)}s`);
        // 60 s grace: without SIGTERM handled, the old pod would have lingered until the SIGKILL.
        expect(tookMs).toBeLessThan(40_000);
        await Promise.race([followEnded, new Promise((r) => setTimeout(r, 10_000))]);
        expect(followed).toContain('Sleeping 2 seconds before terminating...');
        const res = await waitFor(
          'Service to the new pod',
          async () => {
            const r = await httpGet(`http://${webIp}/hostname`);
            return r.body === fresh.metadata.name && r;
          },
          30_000,
        );
        expect(res.status).toBe(200);
      } finally {
        follow.kill();
      }
    },
    T,
  );

  it(
    'sent no packet from or to a pod, Service or node address out by the default route',
    async () => {
      const watch = egress;
      if (!watch) throw new Error('egress-watch.py did not start');
      const ended = new Promise<void>((resolve) => watch.on('close', () => resolve()));
      watch.kill('SIGTERM');
      await ended;
      const seen = JSON.parse(egressOut.slice('ready\n'.length)) as string[];
      expect(seen).toEqual([]);
    },
    T,
  );
});
