/**
 * The one client the operator uses to talk to the API server. KubeConfig (from
 * @kubernetes/client-node) supplies the cluster address and credentials, in cluster or from a
 * kubeconfig; requests go over node:https (http.ts) so every call — including watches and
 * server-side apply — passes through one place that counts it by verb, resource and status code.
 * The generated client-node APIs hide the HTTP layer, which would leave watches and applies uncounted.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import { credentialsOf, HttpKubeApi, type KubeRequest } from './http.js';
import { resourceOfPath } from './resources.js';

export { isStatus, type KubeApi, type KubeList, type KubeObject, type KubeRequest } from './http.js';

/** Loads a KubeConfig from a file, or the default chain (KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error(`load kubeconfig ${file ?? '(default)'}: no current cluster`);
  return kc;
}

/** Request counter labels; exported so the bench and tests read the same names. */
export const KUBE_REQUESTS_METRIC = 'modelship_kube_requests_total';

/** Identifies the operator in API server logs and audit events. */
const USER_AGENT = 'modelship-operator/0.1.0';

/** Verb in Kubernetes terms for a request: list/watch/get/create/update/patch/apply/delete. */
export function verbOf(req: KubeRequest): string {
  const { named } = resourceOfPath(req.path);
  switch (req.method) {
    case 'GET':
      if (req.query?.watch) return 'watch';
      return named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return req.contentType === 'application/apply-patch+yaml' ? 'apply' : 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
  }
}

/** The real client: node:https with credentials from a KubeConfig, every call counted. */
export class KubeClient extends HttpKubeApi {
  /** Builds a client; reads TLS material and credentials once up front. */
  static async create(kc: KubeConfig, registry: Registry): Promise<KubeClient> {
    const existing = registry.getSingleMetric(KUBE_REQUESTS_METRIC) as
      Counter<'verb' | 'resource' | 'code'> | undefined;
    const requests =
      existing ??
      new Counter({
        name: KUBE_REQUESTS_METRIC,
        help: 'Requests the operator sent to the Kubernetes API server, by verb, resource and HTTP status (0 = no answer).',
        labelNames: ['verb', 'resource', 'code'],
        registers: [registry],
      });
    return new KubeClient(await credentialsOf(kc), USER_AGENT, (req, code) =>
      requests.inc({ verb: verbOf(req), resource: resourceOfPath(req.path).resource, code: String(code) }),
    );
  }
}
