/**
 * Jest global teardown for the e2e project: takes down the control plane global setup started.
 * Like global setup, it runs the compiled cluster code from dist/ (jest's module mapper does not apply here).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type * as Cluster from './cluster.js';

export default async function globalTeardown(
  _globalConfig: unknown,
  projectConfig: { rootDir: string },
): Promise<void> {
  if (process.env.MODELSHIP_E2E_OWNS_CLUSTER !== '1') return;
  const path = join(projectConfig.rootDir, 'dist', 'test', 'cluster', 'cluster.js');
  const cluster = (await import(pathToFileURL(path).href)) as typeof Cluster;
  await cluster.clusterDown();
}
