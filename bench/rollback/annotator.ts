/**
 * The action writer of the rollback benchmark, as its own process (like a user's kubectl): the
 * annotation's patch (TLS, JSON) then never stalls the bench's load loops at the very moment the
 * rollback is measured. Reads one JSON line per action on stdin, `{"path": ..., "annotation": ...,
 * "value": ...}`, writes a merge patch of that one annotation, and answers one JSON line:
 * `{"patchedAt": <Date.now()>}` or `{"error": "..."}`. Prints `ready` once its client is set up.
 *
 *   node dist/bench/rollback/annotator.js <kubeconfig>
 */
import { createInterface } from 'node:readline';

import { Registry } from 'prom-client';

import { KubeClient, loadKubeConfig } from '../../operator/src/kube/client.js';

const api = await KubeClient.create(loadKubeConfig(process.argv[2]), new Registry());
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) {
  const { path, annotation, value } = JSON.parse(line) as { path: string; annotation: string; value: string };
  try {
    await api.request({
      method: 'PATCH',
      path,
      body: { metadata: { annotations: { [annotation]: value } } },
      contentType: 'application/merge-patch+json',
    });
    process.stdout.write(`${JSON.stringify({ patchedAt: Date.now() })}\n`);
  } catch (err) {
    process.stdout.write(
      `${JSON.stringify({ error: `patch ${path} ${annotation}=${value}: ${(err as Error).message}` })}\n`,
    );
  }
}
