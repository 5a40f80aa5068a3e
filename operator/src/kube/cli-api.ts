/**
 * What the `modelship` CLI asks of the API server: one ModelDeployment (read, followed through a
 * watch, its action annotation patched) and the Events about it. Loads no client-node (see
 * kubeconfig.ts), so `modelship status` and the actions start in a fraction of the operator's time.
 */
import { listAndWatch } from '../../../common/listwatch.js';
import type { ModelDeployment } from '../api/types.js';
import { ACTION_ANNOTATION } from '../rollout/canary-action.js';
import { HttpKubeApi, type KubeList, type KubeObject } from './http.js';
import { loadClusterAccess } from './kubeconfig.js';
import { pathFor, resourceFor } from './resources.js';

const MODEL_DEPLOYMENT = resourceFor('modelship.dev/v1alpha1', 'ModelDeployment');

/** Identifies the CLI in API server logs and audit events. */
const USER_AGENT = 'modelship-cli/0.1.0';

/** A connection for one command: the API and the namespace it acts in. */
export interface CliApi {
  api: HttpKubeApi;
  /** The namespace given, else the kubeconfig context's, else `default`. */
  namespace: string;
}

/** Connects with a kubeconfig file or the default chain. */
export async function connect(kubeconfig: string | undefined, namespace: string | undefined): Promise<CliApi> {
  const access = await loadClusterAccess(kubeconfig);
  return { api: new HttpKubeApi(access.credentials, USER_AGENT), namespace: namespace ?? access.namespace };
}

/** Reads a ModelDeployment. */
export function readModelDeployment(cli: CliApi, name: string): Promise<ModelDeployment> {
  return cli.api.request<ModelDeployment>({ method: 'GET', path: pathFor(MODEL_DEPLOYMENT, cli.namespace, name) });
}

/** Sets the action annotation (a merge patch of that one annotation, nothing else); returns the object as patched. */
export function patchAction(cli: CliApi, name: string, value: string): Promise<ModelDeployment> {
  return cli.api.request<ModelDeployment>({
    method: 'PATCH',
    path: pathFor(MODEL_DEPLOYMENT, cli.namespace, name),
    body: { metadata: { annotations: { [ACTION_ANNOTATION]: value } } },
    contentType: 'application/merge-patch+json',
  });
}

/**
 * Follows one ModelDeployment until the signal aborts: `onChange` gets it after the first read and
 * after every change (undefined while it does not exist). A dropped watch resumes; failures go to
 * `onError` with the delay before the next attempt.
 */
export function followModelDeployment(
  cli: CliApi,
  name: string,
  onChange: (md: ModelDeployment | undefined) => void,
  onError: (err: unknown, retryInMs: number) => void,
  signal: AbortSignal,
): Promise<void> {
  const path = pathFor(MODEL_DEPLOYMENT, cli.namespace);
  const fieldSelector = `metadata.name=${name}`;
  return listAndWatch<KubeObject>(
    {
      what: `watch ModelDeployment ${cli.namespace}/${name}`,
      list: async () => {
        const list = await cli.api.request<KubeList>({ method: 'GET', path, query: { fieldSelector } });
        return { items: list.items, resourceVersion: list.metadata.resourceVersion ?? '' };
      },
      watch: (resourceVersion, onEvent, stream) =>
        cli.api.watch(path, { fieldSelector, resourceVersion, allowWatchBookmarks: true }, onEvent, stream),
      onList: (items) => onChange(items[0] as unknown as ModelDeployment | undefined),
      onEvent: (type, object) => onChange(type === 'DELETED' ? undefined : (object as unknown as ModelDeployment)),
      backoff: { baseMs: 200, maxMs: 5000 },
      onError,
    },
    signal,
  );
}

/**
 * The Events about the object with this uid, through the core v1 API (the operator writes them
 * as events.k8s.io/v1; both read the same Events, and core v1 selects them by uid).
 */
export async function eventsAbout<T>(cli: CliApi, uid: string): Promise<T[]> {
  const list = await cli.api.request<{ items: T[] }>({
    method: 'GET',
    path: `/api/v1/namespaces/${encodeURIComponent(cli.namespace)}/events`,
    query: { fieldSelector: `involvedObject.uid=${uid}` },
  });
  return list.items;
}
