/**
 * `make run` on a machine that can run real pods (root on Linux): the local control plane with a
 * real node, the image `make image` built pushed to the node's registry, the Helm chart installed
 * with its defaults (the operator runs in pods, as a user's would), examples/digits.yaml applied.
 * Once the ModelDeployment is Ready it prints curls against its apex Service's ClusterIP (routed on
 * this host by kube-proxy) and waits; Ctrl-C stops the whole cluster.
 *
 *   node dist/test/run/main.js
 */
import { join, relative } from 'node:path';

import { binDir, clusterDown, clusterUp, repoRoot, stopClusterOnExit } from '../cluster/cluster.js';
import { installModelship, RELEASE, sh } from './install.js';

const EXAMPLE = 'examples/digits.yaml';

function say(message: string): void {
  console.error(`run: ${message}`);
}

async function main(): Promise<void> {
  const root = repoRoot();
  const started = Date.now();
  const info = await clusterUp({ node: 'real', log: (m) => say(m) });
  // Ctrl-C, SIGTERM, SIGHUP or any exit stops every process of the cluster and cleans the node.
  stopClusterOnExit(info);

  const kubectl = (args: string[], timeoutMs?: number) =>
    sh(info.kubeconfig, join(binDir(), 'kubectl'), args, timeoutMs);
  say(
    `cluster up with real node ${info.realNode?.name} in ${((Date.now() - started) / 1000).toFixed(0)} s; installing the chart`,
  );
  await installModelship({
    kubeconfig: info.kubeconfig,
    registry: info.realNode?.registry,
    nodeCacheHostPath: info.realNode ? join(info.paths.dir, 'node-cache') : undefined,
  });
  say(`operator running in ${RELEASE.namespace}; applying ${EXAMPLE}`);
  await kubectl(['apply', '--server-side', '--field-manager=modelship-run', '-f', join(root, EXAMPLE)]);
  await kubectl(['wait', '--for=condition=Ready', '--timeout=600s', 'modeldeployment/digits'], 620_000);
  const ip = (await kubectl(['get', 'service', 'digits', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  const kubeconfig = relative(process.cwd(), info.kubeconfig);
  const samples = relative(process.cwd(), join(root, 'examples/models/samples'));
  console.log(`
digits is Ready on real pods (${((Date.now() - started) / 1000).toFixed(0)} s from start). Predict a handwritten 3:
  curl -s -d @${samples}/digit-3.v2.json http://${ip}/v2/models/digits/infer
  curl -s -d @${samples}/digit-3.v1.json http://${ip}/v1/models/digits:predict
  export KUBECONFIG=${kubeconfig}
  ${join(binDir(), 'kubectl')} get md,pods -A
Ctrl-C stops everything.`);
  // Serve until a signal: a pending promise alone would not keep Node running.
  setInterval(() => undefined, 1 << 30);
}

main().catch(async (err: unknown) => {
  console.error(`run: ${err instanceof Error ? err.message : String(err)}`);
  await clusterDown().catch(() => undefined);
  process.exit(1);
});
