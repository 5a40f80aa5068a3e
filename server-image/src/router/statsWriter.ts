/**
 * Publishes the stats document into a ConfigMap so the operator reads it through the API server
 * (no network path to router pods needed). Each pod writes only its own key with a JSON merge
 * patch, so replicas never conflict and need no resourceVersion. Needs get/create/patch on that
 * one ConfigMap (create only if the operator has not made it).
 *
 * How often it writes is a rollout setting the operator puts in the Routes document
 * (`statsIntervalMs`), so a change reaches running pods with the routes, without a restart; the
 * interval the writer starts with (MODELSHIP_STATS_INTERVAL_MS) holds while the routes name none.
 */
import { ApiException, PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from '../../../common/log.js';
import { STATS_CONFIGMAP_LABELS, statsKey } from '../../../contract/keys.js';
import type { Routes } from '../../../contract/routes.js';
import type { RouterStatsDocument } from '../../../contract/stats.js';

/** A running writer: `flush` writes now, `close` stops the timer. */
export interface StatsWriter {
  /**
   * Writes the stats now (a held request, shutdown). While a write is under way, one more follows
   * it, with a snapshot taken then, however many flushes asked for it meanwhile.
   */
  flush(): Promise<void>;
  close(): void;
  /** Takes the publishing period of the routes now in force. */
  applyRoutes(routes: Routes): void;
}

/** What the writer needs to know and use. */
export interface StatsWriterOptions {
  /** The API client; only its ConfigMap patch and create are used. */
  api: Pick<CoreV1Api, 'patchNamespacedConfigMap' | 'createNamespacedConfigMap'>;
  namespace: string;
  name: string;
  pod: string;
  /** The period while the routes in force name none (MODELSHIP_STATS_INTERVAL_MS). */
  intervalMs: number;
  snapshot: () => RouterStatsDocument;
  log: Logger;
}

/** Writes `snapshot()` into `namespace/name` under `<pod>.json` every interval. */
export function startStatsWriter(options: StatsWriterOptions): StatsWriter {
  const { api, namespace, name, snapshot, log } = options;
  const key = statsKey(options.pod);
  let lastError: string | undefined;
  let writing: Promise<void> | undefined;
  let next: Promise<void> | undefined;

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
    // One write at a time: a slow API server must not pile up concurrent patches. A flush during a
    // write must not be answered by that write, whose snapshot may predate what the flush is for.
    if (writing) {
      next ??= writing.then(() => {
        next = undefined;
        return flush();
      });
      return next;
    }
    writing = write().finally(() => (writing = undefined));
    return writing;
  };
  let intervalMs = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const every = (ms: number): void => {
    if (closed || ms === intervalMs) return;
    clearInterval(timer);
    intervalMs = ms;
    timer = setInterval(() => void flush(), ms);
    timer.unref();
  };
  every(options.intervalMs);
  return {
    flush,
    close: () => {
      closed = true;
      clearInterval(timer);
    },
    applyRoutes: (routes) => every(routes.statsIntervalMs ?? options.intervalMs),
  };
}
