/**
 * What the real-pod e2e files share: Modelship installed once, ModelDeployments applied and read as
 * a user would, a Service's address (its ClusterIP through kube-proxy on our own cluster's node, a
 * `kubectl port-forward` on any other cluster), and one-off client pods running the product image
 * itself (`node -e`: it has no shell) to reach Services by cluster DNS from inside the pod network.
 *
 * Runs against the cluster of $MODELSHIP_E2E_KUBECONFIG: the local real-node cluster started by
 * global setup, or any cluster given as E2E_KUBECONFIG (kind after `make kind`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';

import type { ModelDeployment, ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { sha256Of } from '../../server-image/test/helpers/server.js';
import { binDir, readClusterInfo, repoRoot } from '../cluster/cluster.js';
import { applyYaml, waitFor } from '../e2e/kube.js';
import { condition, statusGist } from '../e2e/md.js';
import { chartImage, installModelship, sh, type InstallTarget } from '../run/install.js';

/** The cluster under test: its kubeconfig, and our registry when it is the local real-node cluster. */
export function target(): InstallTarget {
  const kubeconfig = process.env.MODELSHIP_E2E_KUBECONFIG;
  if (!kubeconfig)
    throw new Error('e2e-pods: MODELSHIP_E2E_KUBECONFIG is not set (run through the e2e-node jest project)');
  const info = readClusterInfo(process.env.MODELSHIP_E2E_CLUSTER_INFO?.replace(/\/cluster\.json$/, ''));
  const ours = info?.kubeconfig === kubeconfig ? info : undefined;
  const registry = ours?.realNode?.registry;
  return registry && ours
    ? { kubeconfig, registry, nodeCacheHostPath: join(ours.paths.dir, 'node-cache') }
    : { kubeconfig };
}

let installed: Promise<void> | undefined;

/** Installs Modelship once per test process (each file calls it first; the chart's --wait makes it ready). */
export function installOnce(): Promise<void> {
  installed ??= installModelship(target());
  return installed;
}

/** kubectl against the cluster under test. */
export function kubectl(args: string[], timeoutMs?: number): Promise<string> {
  return sh(target().kubeconfig, join(binDir(), 'kubectl'), args, timeoutMs);
}

const root = repoRoot();

/** The digits models baked into the image at /models (server-image/Dockerfile). */
export type ImageModel = 'digits' | 'digits-v2' | 'digits-bad';

/** The model block of a spec for /models/<file>.onnx in the image, digest from the committed file. */
export function model(file: ImageModel): ModelDeploymentSpec['model'] {
  return {
    uri: `file:///models/${file}.onnx`,
    sha256: sha256Of(join(root, 'examples/models', `${file}.onnx`)),
    name: 'digits',
  };
}

/** examples/digits.yaml as a user has it, optionally renamed. */
export function exampleDigits(name = 'digits'): { metadata: { name: string }; spec: ModelDeploymentSpec } {
  const md = parse(readFileSync(join(root, 'examples/digits.yaml'), 'utf8')) as {
    metadata: { name: string };
    spec: ModelDeploymentSpec;
  };
  md.metadata.name = name;
  return md;
}

/** A client for one namespace's ModelDeployments. */
export class Mds {
  private readonly custom;
  constructor(
    private readonly kc: KubeConfig,
    readonly namespace: string,
  ) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async get(name: string): Promise<ModelDeployment> {
    return (await this.custom.getNamespacedCustomObject({
      group: 'modelship.dev',
      version: 'v1alpha1',
      namespace: this.namespace,
      plural: 'modeldeployments',
      name,
    })) as ModelDeployment;
  }

  /** Server-side applies the whole spec (fields left out are removed: the test owns them all). */
  async apply(name: string, spec: ModelDeploymentSpec): Promise<void> {
    await applyYaml(
      this.kc,
      JSON.stringify({ apiVersion: 'modelship.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name }, spec }),
      this.namespace,
    );
  }

  /** Polls until check returns a value; the last status is in the timeout error. */
  async waitFor<T>(
    name: string,
    what: string,
    check: (md: ModelDeployment) => T | undefined | false,
    timeoutMs = 240_000,
  ): Promise<T> {
    let last: ModelDeployment | undefined;
    try {
      return await waitFor(
        `ModelDeployment ${this.namespace}/${name}: ${what}`,
        async () => {
          last = await this.get(name);
          return check(last) || undefined;
        },
        timeoutMs,
        250,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\nlast status: ${statusGist(last?.status)}`, {
        cause: err,
      });
    }
  }

  /** Waits until Ready with a stable revision; returns that revision. */
  readyStable(name: string, timeoutMs?: number): Promise<string> {
    return this.waitFor(
      name,
      'Ready with a stable revision',
      (md) => condition(md, 'Ready')?.status === 'True' && md.status?.stable?.revision,
      timeoutMs,
    );
  }
}

const forwards: ChildProcess[] = [];

/** Stops every port-forward serviceUrl started (afterAll of a file that used it on a foreign cluster). */
export function stopPortForwards(): void {
  for (const f of forwards.splice(0)) f.kill('SIGTERM');
}

/** A `kubectl port-forward` to a Service on a loopback port, for clusters whose ClusterIPs this host cannot reach. */
async function portForward(namespace: string, name: string, port: number): Promise<string> {
  const child = spawn(
    join(binDir(), 'kubectl'),
    ['port-forward', '-n', namespace, `svc/${name}`, `:${port}`, '--address', '127.0.0.1'],
    {
      env: { ...process.env, KUBECONFIG: target().kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  forwards.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  return waitFor(
    `port-forward to Service ${namespace}/${name}`,
    () => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1],
    30_000,
    100,
  ).then((p) => `http://127.0.0.1:${p}`);
}

/**
 * The base URL of a Service, once it answers V2 ready there: http://<ClusterIP>:<port> through
 * kube-proxy on our real node, a port-forward elsewhere.
 */
export async function serviceUrl(kc: KubeConfig, namespace: string, name: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const svc = await core.readNamespacedService({ namespace, name });
  const ip = svc.spec?.clusterIP;
  const port = svc.spec?.ports?.[0]?.port;
  if (!ip || ip === 'None' || !port) throw new Error(`read Service ${namespace}/${name}: no ClusterIP and port`);
  const url = target().registry ? `http://${ip}:${port}` : await portForward(namespace, name, port);
  await waitFor(
    `Service ${namespace}/${name} (${url}) answering V2 ready`,
    async () => (await fetch(`${url}/v2/health/ready`, { signal: AbortSignal.timeout(2000) })).status === 200,
    120_000,
    500,
  );
  return url;
}

/** The body of a V2 sample (examples/models/samples) and its true label. */
export function sample(digit: number): { body: string; label: number } {
  return { body: readFileSync(join(root, `examples/models/samples/digit-${digit}.v2.json`), 'utf8'), label: digit };
}

/** The `label` output of a V2 answer. */
export function labelOf(answer: unknown): unknown {
  return (answer as { outputs?: { name: string; data: unknown[] }[] }).outputs?.find((o) => o.name === 'label')?.data;
}

/**
 * Runs `node -e script` in a one-off pod of the product image (restricted security context, as the
 * product's own pods) and returns its logs once it Succeeded. The script prints what the test reads.
 */
export async function runClientPod(kc: KubeConfig, namespace: string, name: string, script: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const pod: V1Pod = {
    metadata: { name, namespace },
    spec: {
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'client',
          image: chartImage().ref,
          args: ['-e', script],
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    },
  };
  await core.createNamespacedPod({ namespace, body: pod });
  const done = await waitFor(
    `client pod ${namespace}/${name} finished`,
    async () => {
      const p = await core.readNamespacedPod({ namespace, name });
      return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
    },
    120_000,
    500,
  );
  // Logs come through the API server from the kubelet (its authorization on, no anonymous access).
  const logs = await kubectl(['logs', '-n', namespace, name]);
  if (done.status?.phase !== 'Succeeded') throw new Error(`client pod ${namespace}/${name} failed: ${logs}`);
  return logs;
}

/** `kubectl exec` into the first container of a pod: `node -e script` (the image has no shell). */
export function execNode(namespace: string, pod: string, script: string): Promise<string> {
  return kubectl(['exec', '-n', namespace, pod, '--', '/nodejs/bin/node', '-e', script]);
}
