/**
 * Modelship installed as a user installs it, on a cluster with real pods: the image `make image`
 * built is pushed to the test cluster's local registry under its upstream name (containerd mirrors
 * that registry, so the chart's default image reference is pulled for real by the kubelet), then
 * `helm upgrade --install` of charts/modelship with its defaults (two operator pods, leader
 * election). On a cluster that is not ours (E2E_KUBECONFIG, e.g. kind after `make kind`), the image
 * is expected there already (`kind load`) and only the chart is installed.
 * Used by `make run` (test/run/main.ts) and the real-pod e2e suite (test/e2e-pods).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { parse } from 'yaml';

import {
  binDir,
  clusterDir,
  clusterInfoPath,
  clusterUp,
  repoRoot,
  type ClusterInfo,
  type RealNodeInfo,
} from '../cluster/cluster.js';
import { pushLocalImage } from '../cluster/registry.js';

const run = promisify(execFile);
const root = repoRoot();

/** Namespace and release the chart is installed as (the chart README's install command). */
export const RELEASE = { namespace: 'modelship-system', name: 'modelship' };

/** The chart's default image reference (values.yaml repository, tag = appVersion): what `make image` tags. */
export function chartImage(): { repository: string; tag: string; ref: string } {
  const chart = join(root, 'charts/modelship');
  const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as {
    image: { repository: string; tag?: string };
  };
  const meta = parse(readFileSync(join(chart, 'Chart.yaml'), 'utf8')) as { appVersion: string };
  const tag = values.image.tag || meta.appVersion;
  return { repository: values.image.repository, tag, ref: `${values.image.repository}:${tag}` };
}

/** Runs a tool against the cluster of kubeconfig; rejects with the tool's output in the message. */
export async function sh(kubeconfig: string, bin: string, args: string[], timeoutMs = 300_000): Promise<string> {
  const env = {
    ...process.env,
    KUBECONFIG: kubeconfig,
    HELM_CACHE_HOME: join(root, '.state/helm/cache'),
    HELM_CONFIG_HOME: join(root, '.state/helm/config'),
    HELM_DATA_HOME: join(root, '.state/helm/data'),
  };
  try {
    const { stdout, stderr } = await run(bin, args, { env, maxBuffer: 64 << 20, timeout: timeoutMs });
    return stdout + stderr;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${bin.split('/').pop()} ${args.join(' ')}: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}

/** Where to install: the cluster's kubeconfig and, for our test cluster, its registry. */
export interface InstallTarget {
  kubeconfig: string;
  /** host:port of the node's registry mirror; absent on a cluster that is not ours. */
  registry?: string;
  /**
   * The node cache's directory on the node (nodeCache.hostPath), for our cluster: inside its state
   * directory, so nothing it downloads is left on the machine outside it.
   */
  nodeCacheHostPath?: string;
}

/** Pushes the product image to the cluster's registry (when it has ours) and installs the chart with its defaults. */
export async function installModelship(target: InstallTarget): Promise<void> {
  const image = chartImage();
  if (target.registry) await pushLocalImage(image.ref, target.registry, image.ref);
  await sh(target.kubeconfig, join(binDir(), 'helm'), [
    'upgrade',
    '--install',
    RELEASE.name,
    join(root, 'charts/modelship'),
    '--namespace',
    RELEASE.namespace,
    '--create-namespace',
    '--wait',
    '--timeout',
    '5m',
    ...(target.nodeCacheHostPath ? ['--set', `nodeCache.hostPath=${target.nodeCacheHostPath}`] : []),
  ]);
}

/**
 * A cluster with one real node and Modelship installed on it, for the benches on real pods: starts
 * the node, points the e2e helpers at the cluster (test/e2e-pods/pods.ts finds it, and so the
 * ClusterIP route, through MODELSHIP_E2E_KUBECONFIG and MODELSHIP_E2E_CLUSTER_INFO) and installs the
 * chart with the node cache inside the cluster's state directory. `log` gets the progress.
 */
export async function realNodeWithModelship(
  log: (message: string) => void,
): Promise<ClusterInfo & { realNode: RealNodeInfo & { registry: string } }> {
  log('starting the real node');
  const info = await clusterUp({ node: 'real', log: (m) => log(`cluster: ${m}`) });
  const realNode = info.realNode;
  const registry = realNode?.registry;
  if (!realNode || !registry) throw new Error(`start the real node in ${clusterDir()}: cluster.json has no registry`);
  process.env.MODELSHIP_E2E_KUBECONFIG = info.kubeconfig;
  process.env.MODELSHIP_E2E_CLUSTER_INFO = clusterInfoPath();
  const started = Date.now();
  log('installing the chart (image pushed to the node registry, helm --wait)');
  await installModelship({
    kubeconfig: info.kubeconfig,
    registry,
    nodeCacheHostPath: join(info.paths.dir, 'node-cache'),
  });
  log(`chart installed in ${Date.now() - started} ms`);
  return { ...info, realNode: { ...realNode, registry } };
}
