/**
 * The product as it ships, on a real node: the chart installed from the image `make image` built,
 * two operator pods electing a leader, and examples/digits.yaml served by real server and router
 * pods. A client gets a correct prediction through the apex Service's ClusterIP (kube-proxy) and,
 * from a pod, through cluster DNS; the pods run as the image promises (non-root, read-only root
 * filesystem, no shell); a wrong sha256 reaches the ModelDeployment's status from the kubelet's
 * termination message.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { CoordinationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';

import { repoRoot } from '../cluster/cluster.js';
import { createTestNamespace, deleteNamespace, loadKubeConfig, waitFor } from '../e2e/kube.js';
import { RELEASE } from '../run/install.js';
import { condition } from '../e2e/md.js';
import {
  Mds,
  exampleDigits,
  execNode,
  installOnce,
  kubectl,
  labelOf,
  model,
  runClientPod,
  sample,
  serviceUrl,
  stopPortForwards,
} from './pods.js';

const TIMEOUT = 600_000;
const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const coordination = kc.makeApiClient(CoordinationV1Api);
const stateDir = join(repoRoot(), '.state', 'e2e-pods');

let ns: string;
let mds: Mds;

/** Appends a figure to the run's measurement log (the numbers the closing notes quote). */
function measured(line: string): void {
  mkdirSync(stateDir, { recursive: true });
  appendFileSync(join(stateDir, 'measured.log'), `${new Date().toISOString()} serving: ${line}\n`);
}

/** Running pods matching a label selector. */
async function podsOf(namespace: string, selector: string): Promise<V1Pod[]> {
  const list = await core.listNamespacedPod({ namespace, labelSelector: selector });
  return list.items.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
}

beforeAll(async () => {
  const started = Date.now();
  await installOnce();
  measured(`image pushed and chart installed (helm --wait) in ${Date.now() - started} ms`);
  ns = await createTestNamespace(kc, 'serving');
  mds = new Mds(kc, ns);
}, TIMEOUT);

afterAll(async () => {
  stopPortForwards();
  if (ns) await deleteNamespace(kc, ns);
}, TIMEOUT);

describe('Modelship on a real node', () => {
  it(
    'runs two operator pods from the chart, exactly one holding the Lease',
    async () => {
      const pods = await podsOf(
        RELEASE.namespace,
        'app.kubernetes.io/name=modelship,app.kubernetes.io/component=operator',
      );
      expect(pods.map((p) => p.status?.containerStatuses?.[0]?.ready)).toEqual([true, true]);
      const lease = await waitFor(
        'the operator Lease held',
        async () => {
          const l = await coordination.readNamespacedLease({
            namespace: RELEASE.namespace,
            name: 'modelship-operator',
          });
          return l.spec?.holderIdentity ? l : undefined;
        },
        60_000,
      );
      expect(pods.map((p) => p.metadata!.name)).toContain(lease.spec!.holderIdentity);
    },
    TIMEOUT,
  );

  it(
    'serves examples/digits.yaml: Ready on real pods, a correct prediction through the apex ClusterIP',
    async () => {
      const md = exampleDigits();
      const applied = Date.now();
      await mds.apply(md.metadata.name, md.spec);
      await mds.readyStable('digits');
      measured(`examples/digits.yaml applied -> Ready in ${Date.now() - applied} ms`);

      const url = await serviceUrl(kc, ns, 'digits');
      const three = sample(3);
      const v2 = await fetch(`${url}/v2/models/digits/infer`, {
        method: 'POST',
        body: three.body,
        headers: { 'content-type': 'application/json' },
      });
      expect(v2.status).toBe(200);
      expect(labelOf(await v2.json())).toEqual([3]);
      // Two model pods and two router pods, all really running on the node.
      const serverPods = await podsOf(ns, 'app.kubernetes.io/name=modelship-server,modelship.dev/deployment=digits');
      expect(serverPods.length).toBe(2);
      expect(serverPods.every((p) => p.status?.containerStatuses?.every((c) => c.ready && c.state?.running))).toBe(
        true,
      );
    },
    TIMEOUT,
  );

  it(
    'answers a pod that asks by cluster DNS name',
    async () => {
      const seven = sample(7);
      const script = `fetch('http://digits.${ns}.svc.cluster.local/v2/models/digits/infer', {method: 'POST', headers: {'content-type': 'application/json'}, body: ${JSON.stringify(seven.body)}})
      .then(async (r) => console.log(JSON.stringify({status: r.status, body: await r.json()})))
      .catch((e) => { console.error(String(e.cause ?? e)); process.exit(1); });`;
      const logs = await runClientPod(kc, ns, 'dns-client', script);
      const answer = JSON.parse(logs.trim().split('\n').at(-1)!) as { status: number; body: unknown };
      expect(answer.status).toBe(200);
      expect(labelOf(answer.body)).toEqual([7]);
    },
    TIMEOUT,
  );

  it(
    'runs model pods as the image promises: non-root, read-only root filesystem, no shell',
    async () => {
      const [pod] = await podsOf(ns, 'app.kubernetes.io/name=modelship-server,modelship.dev/deployment=digits');
      const name = pod!.metadata!.name!;
      const probe = await execNode(
        ns,
        name,
        `const fs = require('fs'); let write; try { fs.writeFileSync('/probe', 'x'); write = 'written'; } catch (e) { write = e.code; }
       console.log(JSON.stringify({uid: process.getuid(), gid: process.getgid(), write, node: process.version}));`,
      );
      const seen = JSON.parse(probe.trim().split('\n').at(-1)!) as {
        uid: number;
        gid: number;
        write: string;
        node: string;
      };
      expect(seen).toEqual({
        uid: 65532,
        gid: 65532,
        write: 'EROFS',
        node: expect.stringMatching(/^v2[6-9]\./) as unknown as string,
      });
      await expect(kubectl(['exec', '-n', ns, name, '--', '/bin/sh', '-c', 'true'])).rejects.toThrow(
        /no such file|not found|executable file/i,
      );
    },
    TIMEOUT,
  );

  it(
    'reports a wrong sha256 in the ModelDeployment status from the kubelet termination message',
    async () => {
      const wrong = { ...model('digits'), sha256: 'f'.repeat(64) };
      await mds.apply('wrongsum', { model: wrong, replicas: 1 });
      const md = await mds.waitFor('wrongsum', 'a digest problem in Ready', (m) => {
        const ready = condition(m, 'Ready');
        return ready?.status === 'False' && /sha256|digest/i.test(ready.message ?? '') && m;
      });
      const ready = condition(md, 'Ready')!;
      expect(ready.message).toContain('f'.repeat(12));
      // The message came from the container's termination message, not from a guess.
      const pods = await core.listNamespacedPod({
        namespace: ns,
        labelSelector: 'app.kubernetes.io/name=modelship-server,modelship.dev/deployment=wrongsum',
      });
      const terminated = pods.items
        .flatMap((p) => p.status?.containerStatuses ?? [])
        .map((c) => c.lastState?.terminated ?? c.state?.terminated)
        .find(Boolean);
      expect(terminated?.message).toMatch(/sha256|digest/i);
      expect(terminated?.exitCode).not.toBe(0);
    },
    TIMEOUT,
  );

  it(
    'applies spec.server.limits on the pods: an answer over maxResponseSize is a 400 naming the setting, a small one is served',
    async () => {
      const base = exampleDigits().spec;
      const server = {
        ...base.server,
        resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
        limits: { maxResponseSize: '1Ki' },
      };
      await mds.apply('limited', { ...base, replicas: 1, server });
      await mds.readyStable('limited');
      const url = await serviceUrl(kc, ns, 'limited');
      const infer = (body: string): Promise<Response> =>
        fetch(`${url}/v2/models/digits/infer`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        });

      const one = sample(3);
      const small = await infer(one.body);
      expect(small.status).toBe(200);
      expect(labelOf(await small.json())).toEqual([3]);
      // Sixteen rows: their probabilities alone are several KiB of JSON.
      const input = (JSON.parse(one.body) as { inputs: { shape: number[]; data: number[] }[] }).inputs[0];
      const rows = 16;
      const many = JSON.stringify({
        inputs: [
          { ...input, shape: [rows, input.shape[1]], data: Array.from({ length: rows }, () => input.data).flat() },
        ],
      });
      const big = await infer(many);
      expect(big.status).toBe(400);
      expect(((await big.json()) as { error: string }).error).toMatch(
        /over the limit of 1024 bytes \(MODELSHIP_MAX_RESPONSE_SIZE\)/,
      );
    },
    TIMEOUT,
  );

  it(
    'hands the Lease to the other operator pod when the kubelet stops the leader, and keeps reconciling',
    async () => {
      const name = (l: { spec?: { holderIdentity?: string } }) => l.spec?.holderIdentity;
      const leader = name(
        await coordination.readNamespacedLease({ namespace: RELEASE.namespace, name: 'modelship-operator' }),
      )!;
      const deleted = Date.now();
      await core.deleteNamespacedPod({ namespace: RELEASE.namespace, name: leader });
      const successor = await waitFor(
        'another operator pod holding the Lease',
        async () => {
          const holder = name(
            await coordination.readNamespacedLease({ namespace: RELEASE.namespace, name: 'modelship-operator' }),
          );
          return holder && holder !== leader ? holder : undefined;
        },
        120_000,
        250,
      );
      measured(`leader ${leader} deleted; ${successor} took the Lease after ${Date.now() - deleted} ms`);
      // The new leader acts: a replica change reaches the revision Deployment.
      const md = exampleDigits();
      await mds.apply('digits', { ...md.spec, replicas: 1 });
      await mds.waitFor(
        'digits',
        'one ready replica',
        (m) => m.status?.stable?.readyReplicas === 1 && condition(m, 'Ready')?.status === 'True' && m,
      );
    },
    TIMEOUT,
  );
});
