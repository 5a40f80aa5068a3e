/**
 * Models from where teams keep them, on real pods: a real S3-compatible store (MinIO), a GCS
 * emulator (fake-gcs-server) and an OCI registry (distribution, with htpasswd auth) holding an
 * artifact pushed by the real oras CLI, all started by this file on the real node's address so the
 * pods reach them. Each source serves a ModelDeployment that answers correctly; wrong credentials, a
 * missing object and a digest mismatch each reach the ModelDeployment's status with their own
 * reason; a canary moves a model from s3:// to oci://; and the node cache downloads a model once
 * for all the pods of the node.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { CoreV1Api } from '@kubernetes/client-node';

import type { ModelDeployment, ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { sha256Of } from '../../server-image/test/helpers/server.js';
import { repoRoot } from '../cluster/cluster.js';
import { nodeNetwork } from '../cluster/network.js';
import { createTestNamespace, deleteNamespace, loadKubeConfig, waitFor } from '../e2e/kube.js';
import { Load, summarize } from '../e2e/load.js';
import { condition, promotedFrom, routeOf } from '../e2e/md.js';
import { startFakeGcs } from '../stores/gcs.js';
import { orasPush } from '../stores/oras.js';
import { startRegistry } from '../stores/registry.js';
import { startS3 } from '../stores/s3.js';
import { RELEASE } from '../run/install.js';
import { Mds, installOnce, kubectl, labelOf, sample, serviceUrl, stopPortForwards, target } from './pods.js';

const TIMEOUT = 600_000;
const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const root = repoRoot();
const stateDir = join(root, '.state', 'e2e-pods');
const digitsFile = join(root, 'examples/models/digits.onnx');
const digitsV2File = join(root, 'examples/models/digits-v2.onnx');
const DIGITS_SHA = sha256Of(digitsFile);
const DIGITS_V2_SHA = sha256Of(digitsV2File);
const REGISTRY_USER = { username: 'puller', password: 'e2e-registry-password' };

let ns: string;
let mds: Mds;
const stops: (() => Promise<void>)[] = [];
let s3: Awaited<ReturnType<typeof startS3>>;
let gcs: Awaited<ReturnType<typeof startFakeGcs>>;
let registry: Awaited<ReturnType<typeof startRegistry>>;

function measured(line: string): void {
  mkdirSync(stateDir, { recursive: true });
  appendFileSync(join(stateDir, 'measured.log'), `${new Date().toISOString()} sources: ${line}\n`);
}

/** Small requests: several ModelDeployments share the one 2-CPU node. */
const server: ModelDeploymentSpec['server'] = {
  resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
};

async function secret(name: string, data: Record<string, string>, type = 'Opaque'): Promise<void> {
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name }, type, stringData: data },
  });
}

function s3Model(key: string, sha256: string, secretName?: string): ModelDeploymentSpec['model'] {
  return {
    uri: `s3://models/${key}`,
    sha256,
    name: 'digits',
    storage: {
      endpoint: s3.endpoint,
      region: s3.region,
      pathStyle: true,
      ...(secretName === undefined ? {} : { secretRef: { name: secretName } }),
    },
  };
}

function ociModel(reference: string, sha256: string): ModelDeploymentSpec['model'] {
  return {
    uri: `oci://${reference}`,
    sha256,
    name: 'digits',
    storage: { plainHTTP: true, secretRef: { name: 'registry-pull' } },
  };
}

/** The node cache agent's metrics (Prometheus text) from its pod, read from the host through the pod network. */
async function agentMetrics(): Promise<string> {
  const pods = await core.listNamespacedPod({
    namespace: RELEASE.namespace,
    labelSelector: 'app.kubernetes.io/component=node-cache',
  });
  const ip = pods.items.find((p) => p.status?.phase === 'Running')?.status?.podIP;
  if (ip === undefined) throw new Error('read node cache metrics: no running node-cache pod');
  return (await fetch(`http://${ip}:9090/metrics`, { signal: AbortSignal.timeout(5000) })).text();
}

/** The value of one sample of a counter in Prometheus text, 0 when absent. */
function sampleOf(metrics: string, sample: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/** The reason of the Stalled condition once it is True. */
function stalledReason(md: ModelDeployment): string | undefined {
  const stalled = condition(md, 'Stalled');
  return stalled?.status === 'True' ? stalled.reason : undefined;
}

/** Serves a V2 request for digit 3 through the ModelDeployment's apex Service and returns the label. */
async function predictThree(name: string): Promise<unknown> {
  const url = await serviceUrl(kc, ns, name);
  const res = await fetch(`${url}/v2/models/digits/infer`, {
    method: 'POST',
    body: sample(3).body,
    headers: { 'content-type': 'application/json' },
  });
  expect(res.status).toBe(200);
  return labelOf(await res.json());
}

beforeAll(async () => {
  if (target().registry === undefined)
    throw new Error('sources e2e: needs the local real-node cluster (its stores run on the node)');
  await installOnce();
  const host = nodeNetwork.nodeIp;
  [s3, gcs, registry] = await Promise.all([
    startS3({ host }),
    startFakeGcs({ host }),
    startRegistry({ host, auth: REGISTRY_USER }),
  ]);
  stops.push(
    () => s3.stop(),
    () => gcs.stop(),
    () => registry.stop(),
  );
  await s3.createBucket('models');
  await s3.upload('models', 'digits.onnx', digitsFile);
  await s3.upload('models', 'digits-v2.onnx', digitsV2File);
  await gcs.createBucket('models');
  await gcs.upload('models', 'digits.onnx', digitsFile);
  await orasPush({
    address: registry.address,
    repository: 'models/digits',
    tag: 'v2',
    file: digitsV2File,
    auth: REGISTRY_USER,
  });

  ns = await createTestNamespace(kc, 'sources');
  mds = new Mds(kc, ns);
  await secret('s3-creds', {
    AWS_ACCESS_KEY_ID: s3.rootCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.rootCredentials.secretAccessKey,
  });
  await secret('s3-wrong', {
    AWS_ACCESS_KEY_ID: s3.rootCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: 'not-the-secret',
  });
  const auth = Buffer.from(`${REGISTRY_USER.username}:${REGISTRY_USER.password}`).toString('base64');
  await secret(
    'registry-pull',
    { '.dockerconfigjson': JSON.stringify({ auths: { [registry.address]: { auth } } }) },
    'kubernetes.io/dockerconfigjson',
  );
}, TIMEOUT);

afterAll(async () => {
  stopPortForwards();
  if (ns) await deleteNamespace(kc, ns);
  for (const stop of stops.reverse()) await stop();
}, TIMEOUT);

describe('models from S3, GCS and OCI registries on real pods', () => {
  it(
    'serves a model from each source: s3:// with credentials, gs://, oci:// from a registry that requires auth',
    async () => {
      const started = Date.now();
      await Promise.all([
        mds.apply('from-s3', { model: s3Model('digits.onnx', DIGITS_SHA, 's3-creds'), replicas: 1, server }),
        mds.apply('from-gcs', {
          model: {
            uri: 'gs://models/digits.onnx',
            sha256: DIGITS_SHA,
            name: 'digits',
            storage: { endpoint: gcs.endpoint },
          },
          replicas: 1,
          server,
        }),
        mds.apply('from-oci', {
          model: ociModel(`${registry.address}/models/digits:v2`, DIGITS_V2_SHA),
          replicas: 1,
          server,
        }),
      ]);
      for (const name of ['from-s3', 'from-gcs', 'from-oci']) {
        await mds.readyStable(name);
        measured(`${name}: applied -> Ready in ${Date.now() - started} ms`);
        expect(await predictThree(name)).toEqual([3]);
      }
    },
    TIMEOUT,
  );

  it(
    'reports wrong credentials, a missing object and a digest mismatch each with its own reason, naming no secret',
    async () => {
      await Promise.all([
        mds.apply('wrong-creds', { model: s3Model('digits.onnx', DIGITS_SHA, 's3-wrong'), replicas: 1, server }),
        mds.apply('missing', { model: s3Model('no-such-model.onnx', DIGITS_SHA, 's3-creds'), replicas: 1, server }),
        mds.apply('mismatch', { model: s3Model('digits-v2.onnx', DIGITS_SHA, 's3-creds'), replicas: 1, server }),
      ]);
      const expected: Record<string, string> = {
        'wrong-creds': 'ModelAccessDenied',
        missing: 'ModelNotFound',
        mismatch: 'ModelDigestMismatch',
      };
      for (const [name, reason] of Object.entries(expected)) {
        const md = await mds.waitFor(name, `Stalled with ${reason}`, (m) => stalledReason(m) === reason && m);
        const text = JSON.stringify(md.status);
        expect(text).toContain('s3://models/');
        expect(text).not.toContain(s3.rootCredentials.secretAccessKey);
        expect(text).not.toContain('not-the-secret');
      }
      // Their pods keep restarting: free the one node for the tests after.
      await kubectl(['delete', 'modeldeployments', 'wrong-creds', 'missing', 'mismatch', '-n', ns, '--wait=false']);
    },
    TIMEOUT,
  );

  it(
    'downloads a model once for the node: two pods of a revision, and a second ModelDeployment of the same model',
    async () => {
      const before = await agentMetrics();
      await mds.apply('cached', { model: s3Model('digits-v2.onnx', DIGITS_V2_SHA, 's3-creds'), replicas: 2, server });
      await mds.readyStable('cached');
      await mds.apply('cached-again', {
        model: s3Model('digits-v2.onnx', DIGITS_V2_SHA, 's3-creds'),
        replicas: 1,
        server,
      });
      await mds.readyStable('cached-again');
      // Ready can come before the last pod's answer is counted (or, for 'cached', with one of its two
      // pods): wait until the agent has counted an answer for each of the three pods.
      const outcomes = ['hit', 'miss'].map((o) => `modelship_cache_requests_total{outcome="${o}"}`);
      const answered = (m: string): number => outcomes.reduce((n, o) => n + sampleOf(m, o) - sampleOf(before, o), 0);
      const after = await waitFor(
        'the node agent to answer three pods',
        async () => {
          const m = await agentMetrics();
          return answered(m) >= 3 ? m : undefined;
        },
        60_000,
        250,
      ).catch(agentMetrics);
      const delta = (sample: string): number => sampleOf(after, sample) - sampleOf(before, sample);
      measured(
        `node cache for 3 pods of one s3:// model: ${delta('modelship_cache_downloads_total')} download(s), ` +
          `${delta('modelship_cache_requests_total{outcome="hit"}')} hit(s), ${delta('modelship_cache_requests_total{outcome="miss"}')} miss(es)`,
      );
      // Outcomes, not downloads_total: the crash-looping pods of the test before still ask the agent
      // (and fail) while these start. One miss is the one download; the other two pods were hits.
      expect({
        miss: delta('modelship_cache_requests_total{outcome="miss"}'),
        hit: delta('modelship_cache_requests_total{outcome="hit"}'),
      }).toEqual({ miss: 1, hit: 2 });
      expect(await predictThree('cached-again')).toEqual([3]);
    },
    TIMEOUT,
  );

  it(
    'moves a model from s3:// to oci:// by canary, promoted once the analysis passes',
    async () => {
      const previous = routeOf('from-s3', await mds.readyStable('from-s3'));
      // The analysis needs requests to judge: a steady load through the apex Service throughout.
      const load = Load.start({ url: await serviceUrl(kc, ns, 'from-s3'), model: 'digits', concurrency: 2 });
      await mds.apply('from-s3', {
        model: ociModel(`${registry.address}/models/digits:v2`, DIGITS_V2_SHA),
        replicas: 1,
        server,
        rollout: { steps: [{ weight: 50, pauseSeconds: 5 }], analysis: { intervalSeconds: 2, minRequests: 10 } },
      });
      let md: ModelDeployment;
      try {
        md = await mds.waitFor('from-s3', 'the oci:// candidate promoted', (m) => promotedFrom(m, previous) && m);
      } finally {
        const s = summarize(await load.stop());
        measured(`s3 -> oci canary under load: ${s.requests} requests, ${s.failed} failed, ${s.wrong} wrong`);
        expect({ failed: s.failed, wrong: s.wrong }).toEqual({ failed: 0, wrong: 0 });
      }
      expect(md.status?.stable?.model.uri).toBe(`oci://${registry.address}/models/digits:v2`);
      expect(await predictThree('from-s3')).toEqual([3]);
    },
    TIMEOUT,
  );
});
