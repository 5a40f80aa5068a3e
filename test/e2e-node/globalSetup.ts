/**
 * Jest global setup of the e2e-node project: a cluster with a real node, in its own state dir
 * (`.state/cluster-node`, never the kwok cluster of the e2e project that may run at the same time).
 * Like test/cluster/globalSetup.ts it runs the compiled cluster code from dist/ (`make build`).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type * as Cluster from '../cluster/cluster.js';

export default async function globalSetup(_globalConfig: unknown, projectConfig: { rootDir: string }): Promise<void> {
  // Any other cluster (kind after `make kind`, a real one): the product suite runs against it as it is.
  const external = process.env.E2E_KUBECONFIG;
  if (external) {
    process.env.KUBECONFIG = external;
    process.env.MODELSHIP_E2E_KUBECONFIG = external;
    process.stderr.write(`\ne2e-node: against the cluster of E2E_KUBECONFIG=${external} (no local cluster started)\n`);
    return;
  }
  const path = join(projectConfig.rootDir, 'dist', 'test', 'cluster', 'cluster.js');
  let cluster: typeof Cluster;
  try {
    cluster = (await import(pathToFileURL(path).href)) as typeof Cluster;
  } catch (err) {
    throw new Error(`load ${path}: ${(err as Error).message}; run \`make build\` first`, { cause: err });
  }
  const dir = join(projectConfig.rootDir, '.state', 'cluster-node');
  const started = Date.now();
  const info = await cluster.clusterUp({ node: 'real', dir, log: (m) => process.stderr.write(`\ncluster-node: ${m}`) });
  process.stderr.write(
    `\ncluster-node: up in ${((Date.now() - started) / 1000).toFixed(1)}s, logs in ${info.paths.logsDir}\n`,
  );
  cluster.stopClusterOnExit(info);
  // Jest workers are forked after global setup and inherit these.
  process.env.MODELSHIP_E2E_NODE_CLUSTER_DIR = dir;
  // What the shared e2e helpers (test/e2e/kube.ts) and the product suite (test/e2e-pods) read.
  process.env.KUBECONFIG = info.kubeconfig;
  process.env.MODELSHIP_E2E_KUBECONFIG = info.kubeconfig;
  process.env.MODELSHIP_E2E_SERVER = info.server;
  process.env.MODELSHIP_E2E_CLUSTER_INFO = cluster.clusterInfoPath(dir);
  process.env.MODELSHIP_E2E_NODE_UP_MS = String(Date.now() - started);
}
