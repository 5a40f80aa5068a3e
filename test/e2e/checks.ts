/**
 * What the custom-check suites (metrics.test.ts, webhooks.test.ts) share: the digits models, a
 * ModelDeployment applied whole, polling its status, and a first revision serving under load.
 */
import { join } from 'node:path';

import type { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';

import type { ModelDeployment, ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { sha256Of } from '../../server-image/test/helpers/server.js';
import { repoRoot } from '../cluster/cluster.js';
import type { PodRunner } from '../localpods/runner.js';
import { waitForHealth } from './gitops.js';
import { applyYaml, waitFor } from './kube.js';
import { Load, summarize } from './load.js';
import { condition, readMd, routeOf, statusGist } from './md.js';
import { answeringApexUrl } from './suite.js';

/** One suite's cluster clients, namespace and pod runner. */
export interface ChecksContext {
  kc: KubeConfig;
  custom: CustomObjectsApi;
  ns: string;
  runner: PodRunner;
}

/** The model block for examples/models/<file>.onnx, its digest computed. */
export function digits(file: 'digits' | 'digits-v2'): ModelDeploymentSpec['model'] {
  return {
    uri: `file:///models/${file}.onnx`,
    sha256: sha256Of(join(repoRoot(), 'examples/models', `${file}.onnx`)),
    name: 'digits',
  };
}

/** Server-side applies the whole spec of ModelDeployment `name`. */
export async function applyMd(ctx: ChecksContext, name: string, spec: ModelDeploymentSpec): Promise<void> {
  await applyYaml(
    ctx.kc,
    JSON.stringify({ apiVersion: 'modelship.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name }, spec }),
    ctx.ns,
  );
}

/** Polls ModelDeployment `name` until `check` holds; the last status is in the timeout error. */
export async function until(
  ctx: ChecksContext,
  name: string,
  what: string,
  check: (md: ModelDeployment) => boolean,
): Promise<ModelDeployment> {
  let last: ModelDeployment | undefined;
  try {
    return await waitFor(
      `${name}: ${what}`,
      async () => {
        const md = await readMd<ModelDeployment>(ctx.custom, ctx.ns, name);
        last = md;
        return check(md) ? md : undefined;
      },
      150_000,
      250,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast status: ${statusGist(last?.status)}`, { cause: err });
  }
}

/** Once `name` serves its first revision: that revision, and a load through its apex Service (added to `loads`). */
export async function serving(
  ctx: ChecksContext,
  name: string,
  loads: Load[],
): Promise<{ stable: string; load: Load }> {
  const md = await until(ctx, name, 'Ready with a stable revision', (m) => condition(m, 'Ready')?.status === 'True');
  const load = Load.start({ url: await answeringApexUrl(ctx.runner, ctx.ns, name), model: 'digits', concurrency: 2 });
  loads.push(load);
  return { stable: md.status!.stable!.revision, load };
}

/**
 * Waits for the automatic rollback of `name`'s candidate after failureLimit (2) failed checks and
 * asserts how it is reported (status.canary with `reason` and `message`, Stalled, Argo CD Degraded
 * and kstatus Failed) and what clients see: stops the load once 50 requests were sent from a
 * second later on, all answered by `stable`, none failed.
 */
export async function rolledBackAt(
  ctx: ChecksContext,
  name: string,
  expected: { reason: string; message: string; stable: string; load: Load },
): Promise<void> {
  const { reason, message, stable, load } = expected;
  const md = await until(ctx, name, 'rolled back', (m) => m.status?.canary?.phase === 'RolledBack');
  expect(md.status!.canary).toMatchObject({ reason, weight: 0, failures: 2 });
  expect(md.status!.canary!.message).toContain(message);
  expect(condition(md, 'Stalled')).toMatchObject({ status: 'True', reason });
  await waitForHealth(`${name}, rolled back`, () => readMd(ctx.custom, ctx.ns, name), 'Degraded', 'Failed');

  const after = Date.now() + 1_000;
  await waitFor('requests after the rollback', () => load.since(after).length >= 50, 30_000, 100);
  expect(summarize(await load.stop()).failed).toBe(0);
  expect(new Set(load.since(after).map((o) => o.revision))).toEqual(new Set([routeOf(name, stable)]));
}
