/**
 * What the model-quality suites share, on kwok with local pods (test/e2e/model-quality.test.ts) and
 * on real pods (test/e2e-pods/monitoring.test.ts): the example models with their drift profiles,
 * the request sets of examples/models/samples, and traffic that runs while a test waits.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { sha256Of } from '../../server-image/test/helpers/server.js';
import { repoRoot } from '../cluster/cluster.js';

const root = repoRoot();

/** The model block for examples/models/<file>.onnx (file:///models/ in pods) with its profile, digests computed. */
export function profiledModel(file: 'digits' | 'digits-bad'): ModelDeploymentSpec['model'] {
  const sha = (name: string): string => sha256Of(join(root, 'examples/models', name));
  return {
    uri: `file:///models/${file}.onnx`,
    sha256: sha(`${file}.onnx`),
    name: 'digits',
    profile: { uri: `file:///models/${file}.profile.json`, sha256: sha(`${file}.profile.json`) },
  };
}

/** The V2 request bodies of a JSONL set under examples/models/samples (`test.v2.jsonl`, `shifted/...`). */
export function sampleSet(file: string): string[] {
  return readFileSync(join(root, 'examples/models/samples', file), 'utf8')
    .split('\n')
    .filter(Boolean);
}

/**
 * Sends every row of `rows` in turn, 4 at a time, over and over, to digits at `url` while `wait`
 * waits (so the routers' drift windows fill however many requests they sample: a window of one part
 * of the set would itself look drifted); resolves with what `wait` found once the sending stopped,
 * and fails naming the statuses unless every answer was 200.
 */
export async function sendWhile<T>(url: string, rows: string[], wait: () => Promise<T>): Promise<T> {
  let stopped = false;
  const statuses = new Map<number, number>();
  const loop = async (offset: number): Promise<void> => {
    for (let i = offset; !stopped; i += 4) {
      const res = await fetch(`${url}/v2/models/digits/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: rows[i % rows.length],
      });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  };
  const loops = Promise.all([0, 1, 2, 3].map(loop));
  let found: T;
  try {
    found = await wait();
  } finally {
    stopped = true;
    await loops;
  }
  const other = [...statuses].filter(([status]) => status !== 200);
  if (other.length > 0)
    throw new Error(`sendWhile: answers other than 200: ${JSON.stringify(Object.fromEntries(statuses))}`);
  return found;
}
