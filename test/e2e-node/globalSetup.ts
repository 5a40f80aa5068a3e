/**
 * Jest global setup of the e2e-node project: a cluster with a real node, in its own state dir
 * (`.state/cluster-node`, never the kwok cluster of the e2e project that may run at the same time).
 * Like test/cluster/globalSetup.ts it runs the compiled cluster code from dist/ (`make build`).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type * as Cluster from '../cluster/cluster.js';

export default async function globalSetup(_globalConfig: unknown, projectConfig: { rootDir: string }): Promise<void> {
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
  process.stderr.write(`\ncluster-node: up in ${((Date.now() - started) / 1000).toFixed(1)}s, logs in ${info.paths.logsDir}\n`);
  cluster.stopClusterOnExit(info);
  // Jest workers are forked after global setup and inherit these.
  process.env.MODELSHIP_E2E_NODE_CLUSTER_DIR = dir;
  process.env.MODELSHIP_E2E_NODE_UP_MS = String(Date.now() - started);
}
