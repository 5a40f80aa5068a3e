/**
 * Jest global teardown of the e2e-node project: takes the real-node cluster down and fails the
 * run if anything of it remains on the machine (processes, mounts, links, rules, cgroups, ...).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type * as Cluster from '../cluster/cluster.js';

export default async function globalTeardown(
  _globalConfig: unknown,
  projectConfig: { rootDir: string },
): Promise<void> {
  if (process.env.E2E_KUBECONFIG) return; // not ours to stop
  const cluster = (await import(
    pathToFileURL(join(projectConfig.rootDir, 'dist', 'test', 'cluster', 'cluster.js')).href
  )) as typeof Cluster;
  const dir = process.env.MODELSHIP_E2E_NODE_CLUSTER_DIR ?? join(projectConfig.rootDir, '.state', 'cluster-node');
  const started = Date.now();
  await cluster.clusterDown(dir);
  // Twice: down must be idempotent.
  await cluster.clusterDown(dir);
  const left = cluster.leftovers(dir);
  process.stderr.write(
    `\ncluster-node: down in ${((Date.now() - started) / 1000).toFixed(1)}s; leftovers: ${left.length === 0 ? 'none' : left.length}\n`,
  );
  if (left.length > 0) throw new Error(`cluster-node down left ${left.length} things behind:\n${left.join('\n')}`);
}
