/**
 * Jest global setup for the e2e project: brings the local control plane up and exports where it is.
 * Set MODELSHIP_E2E_REUSE=1 to run against a cluster already started by `make cluster-up` (left running).
 *
 * Jest loads global setup outside its module mapper, so this runs the compiled cluster code from
 * dist/ (`make build`, a dependency of `make e2e`), like every other process tests start.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type * as Cluster from './cluster.js';

/** Imports the compiled test/cluster/cluster.js from rootDir/dist, with a clear error if it is not built. */
async function loadCompiledCluster(rootDir: string): Promise<typeof Cluster> {
  const path = join(rootDir, 'dist', 'test', 'cluster', 'cluster.js');
  try {
    return (await import(pathToFileURL(path).href)) as typeof Cluster;
  } catch (err) {
    throw new Error(`load ${path}: ${(err as Error).message}; run \`make build\` (npx tsc -p tsconfig.json) first`, {
      cause: err,
    });
  }
}

export default async function globalSetup(_globalConfig: unknown, projectConfig: { rootDir: string }): Promise<void> {
  const cluster = await loadCompiledCluster(projectConfig.rootDir);
  let info: Cluster.ClusterInfo | undefined;
  const existing = process.env.MODELSHIP_E2E_REUSE === '1' ? cluster.readClusterInfo() : undefined;
  if (existing && (await cluster.clusterHealthy(existing))) {
    info = existing;
    process.env.MODELSHIP_E2E_OWNS_CLUSTER = '0';
  } else {
    const started = Date.now();
    info = await cluster.clusterUp({ log: (m) => process.stderr.write(`\ncluster: ${m}`) });
    process.stderr.write(
      `\ncluster: up in ${((Date.now() - started) / 1000).toFixed(1)}s, logs in ${info.paths.logsDir}\n`,
    );
    process.env.MODELSHIP_E2E_OWNS_CLUSTER = '1';
    cluster.stopClusterOnExit(info);
  }
  // Jest workers are forked after global setup and inherit these.
  process.env.KUBECONFIG = info.kubeconfig;
  process.env.MODELSHIP_E2E_KUBECONFIG = info.kubeconfig;
  process.env.MODELSHIP_E2E_SERVER = info.server;
  process.env.MODELSHIP_E2E_CLUSTER_INFO = cluster.clusterInfoPath(info.paths.dir);
}
