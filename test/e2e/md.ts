/**
 * Reading a ModelDeployment and its status as the e2e suites assert on it (kwok and real pods alike):
 * its conditions, the route name of a revision, and the live percent a revision gets.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { Condition, ModelDeployment } from '../../operator/src/api/types.js';

/** GETs a ModelDeployment through the API server (as T: a suite may read it through a narrower shape of its own). */
export async function readMd<T = ModelDeployment>(
  custom: CustomObjectsApi,
  namespace: string,
  name: string,
): Promise<T> {
  return (await custom.getNamespacedCustomObject({
    group: 'modelship.dev',
    version: 'v1alpha1',
    namespace,
    plural: 'modeldeployments',
    name,
  })) as T;
}

/** A condition of a ModelDeployment's status. */
export function condition<C extends { type: string } = Condition>(
  md: { status?: { conditions?: C[] } },
  type: string,
): C | undefined {
  return md.status?.conditions?.find((c) => c.type === type);
}

/**
 * A ModelDeployment's status on one line for a failure message: the conditions without their times,
 * and the rest but the history. CI shows only the head and tail of a long output, so a timeout must
 * say where the object stood in a few hundred characters, not in a page.
 */
export function statusGist(status: ModelDeployment['status']): string {
  if (status === undefined) return 'no status';
  const { conditions, history: _history, ...rest } = status;
  const brief = conditions?.map(({ type, status: s, reason, message }) => ({ type, status: s, reason, message }));
  return JSON.stringify({ conditions: brief, ...rest });
}

/** The route name (`<md>-<rev>`, what x-modelship-revision says) of a revision. */
export function routeOf(md: string, revision: string): string {
  return revision.startsWith(`${md}-`) ? revision : `${md}-${revision}`;
}

/** The live percent status.traffic gives a revision. */
export function percentOf(md: ModelDeployment, revision: string): number | undefined {
  return md.status?.traffic?.find((t) => routeOf(md.metadata.name, t.revision) === routeOf(md.metadata.name, revision))
    ?.percent;
}

/**
 * Whether a new revision has replaced the one routed as `previous`: it is the stable revision and
 * gets 100% (after a promotion, status.canary is gone).
 */
export function promotedFrom(md: ModelDeployment, previous: string): boolean {
  const stable = md.status?.stable?.revision;
  return stable !== undefined && routeOf(md.metadata.name, stable) !== previous && percentOf(md, stable) === 100;
}

/** The names, sorted, of the ModelDeployments in `namespace` that are Ready at their current generation. */
export async function readyMdNames(custom: CustomObjectsApi, namespace: string): Promise<string[]> {
  const list = (await custom.listNamespacedCustomObject({
    group: 'modelship.dev',
    version: 'v1alpha1',
    namespace,
    plural: 'modeldeployments',
  })) as { items: ModelDeployment[] };
  return list.items
    .filter(
      (md) =>
        md.status?.observedGeneration === md.metadata.generation &&
        md.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    )
    .map((md) => md.metadata.name)
    .sort();
}
