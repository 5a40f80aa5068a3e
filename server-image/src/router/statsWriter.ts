/**
 * Publishes the stats document into a ConfigMap so the operator reads it through the API server
 * (no network path to router pods needed). Each pod writes only its own key with a JSON merge
 * patch, so replicas never conflict and need no resourceVersion. Needs get/create/patch on that
 * one ConfigMap (create only if the operator has not made it).
 */
import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { STATS_CONFIGMAP_LABELS, statsKey } from '../../../contract/keys.js';
import type { RouterStatsDocument } from '../../../contract/stats.js';
import type { Logger } from '../log.js';

/** A running writer: `flush` writes now (used at shutdown), `close` stops the timer. */
export interface StatsWriter {
  flush(): Promise<void>;
  close(): void;
}

/** Writes `snapshot()` into `namespace/name` under `<pod>.json` every `intervalMs`. */
export function startStatsWriter(
  kc: KubeConfig,
  namespace: string,
  name: string,
  pod: string,
  intervalMs: number,
  snapshot: () => RouterStatsDocument,
  log: Logger,
): StatsWriter {
  const api = kc.makeApiClient(CoreV1Api);
  const key = statsKey(pod);
  let lastError: string | undefined;
  let writing: Promise<void> | undefined;

  const write = async (): Promise<void> => {
    const data = { [key]: JSON.stringify(snapshot()) };
    try {
      try {
        await api.patchNamespacedConfigMap(
          { name, namespace, body: { data } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch (err) {
        if (!(err instanceof ApiException && err.code === 404)) throw err;
        await api.createNamespacedConfigMap({
          namespace,
          body: { metadata: { name, labels: { ...STATS_CONFIGMAP_LABELS } }, data },
        });
      }
      if (lastError) log.info(`write stats ConfigMap ${namespace}/${name}: recovered`);
      lastError = undefined;
    } catch (err) {
      const msg = `write stats ConfigMap ${namespace}/${name}: ${err instanceof ApiException ? `HTTP ${err.code}` : (err as Error).message}`;
      if (msg !== lastError) log.warn(msg);
      lastError = msg;
    }
  };

  const flush = (): Promise<void> => {
    // One write at a time: a slow API server must not pile up concurrent patches.
    writing ??= write().finally(() => (writing = undefined));
    return writing;
  };
  const timer = setInterval(() => void flush(), intervalMs);
  timer.unref();
  return { flush, close: () => clearInterval(timer) };
}
