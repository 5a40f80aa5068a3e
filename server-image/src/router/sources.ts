/**
 * Where routes come from. Both sources hand every candidate document (as text) to `onText`; the
 * caller validates it and keeps the last good routes when it is invalid. Neither ever throws into
 * the process: failures are logged and retried.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApiException, CoreV1Api, KubeConfig, Watch, type V1ConfigMap } from '@kubernetes/client-node';
import { KubeApiError, type WatchEvent } from '../../../common/kubeapi.js';
import { listAndWatch } from '../../../common/listwatch.js';
import type { Logger } from '../../../common/log.js';
import { ROUTES_KEY } from '../../../contract/keys.js';

/** A running source; `close` stops it. */
export interface RoutesSource {
  close(): void;
}

/** Receives a candidate routes document and where it came from (for logs). */
export type RoutesTextHandler = (text: string, origin: string) => void;

/**
 * Watches a routes file with fs.watch on its directory (so atomic rename-over replacement is seen,
 * which a watch on the file itself would miss), plus a slow re-read as a safety net. A missing or
 * unreadable file is logged and the previous routes stay.
 */
export function watchRoutesFile(file: string, onText: RoutesTextHandler, log: Logger, rereadMs = 2000): RoutesSource {
  const dir = path.dirname(path.resolve(file));
  const base = path.basename(file);
  let last: string | undefined;
  let lastError: string | undefined;
  const read = (): void => {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      const msg = `read routes file ${file}: ${(err as Error).message}`;
      if (msg !== lastError) log.warn(msg);
      lastError = msg;
      return;
    }
    lastError = undefined;
    if (text === last) return;
    last = text;
    onText(text, `file ${file}`);
  };
  const watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
    if (name === null || name === base) read();
  });
  watcher.on('error', (err) => log.warn(`watch routes directory ${dir}: ${err.message}`));
  const timer = setInterval(read, rereadMs);
  timer.unref();
  read();
  return {
    close: () => {
      clearInterval(timer);
      watcher.close();
    },
  };
}

/** Loads the Kubernetes client configuration: KUBECONFIG / ~/.kube/config, else in-cluster. */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/**
 * One watch through client-node, in the shape listAndWatch wants: resolves when the stream ends,
 * rejects with what broke it (a failed answer's status as `code`), ends quietly when signal aborts.
 */
function watchOnce(
  watch: Watch,
  path: string,
  query: Record<string, string | boolean | undefined>,
  what: string,
  onEvent: (e: WatchEvent<V1ConfigMap>) => void,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err: unknown): void => {
      if (!err || signal.aborted || (err as Error).name === 'AbortError') return resolve();
      const code = (err as { statusCode?: number }).statusCode ?? 0;
      reject(new KubeApiError(`${what}: ${(err as Error).message ?? String(err)}`, code, ''));
    };
    watch
      .watch(
        path,
        query,
        (type: string, object: V1ConfigMap) => onEvent({ type: type as WatchEvent<V1ConfigMap>['type'], object }),
        done,
      )
      .then((request) => {
        if (signal.aborted) request.abort();
        else signal.addEventListener('abort', () => request.abort(), { once: true });
      }, done);
  });
}

/**
 * Watches one ConfigMap through the API server with common/listwatch.ts's loop: reads it, then
 * watches it (field selector on its name) from the read's resourceVersion, so an update arrives as
 * one watch event within milliseconds. When the watch fails (API server restart, network) it backs
 * off (from 250 ms up to 10 s), and after 410 Gone it reads afresh. A missing or deleted ConfigMap,
 * or one without the key, is logged; the previous routes stay.
 */
export function watchRoutesConfigMap(
  kc: KubeConfig,
  namespace: string,
  name: string,
  onText: RoutesTextHandler,
  log: Logger,
): RoutesSource {
  const api = kc.makeApiClient(CoreV1Api);
  const watch = new Watch(kc);
  const origin = `ConfigMap ${namespace}/${name}`;
  const stop = new AbortController();
  let lastText: string | undefined;

  const take = (cm: V1ConfigMap): void => {
    const text = cm.data?.[ROUTES_KEY];
    if (text === undefined) {
      log.warn(`${origin} has no key ${ROUTES_KEY}; keeping the current routes`);
      return;
    }
    if (text === lastText) return;
    lastText = text;
    onText(text, origin);
  };

  void listAndWatch<V1ConfigMap>(
    {
      what: `watch ${origin}`,
      list: async () => {
        try {
          const cm = await api.readNamespacedConfigMap({ name, namespace });
          return { items: [cm], resourceVersion: cm.metadata?.resourceVersion ?? '' };
        } catch (err) {
          if (!(err instanceof ApiException && err.code === 404)) {
            throw new Error(`read ${origin}: ${(err as Error).message}`, { cause: err });
          }
          log.warn(`${origin} not found; waiting for it`);
          return { items: [], resourceVersion: '' };
        }
      },
      watch: (resourceVersion, onEvent, signal) =>
        watchOnce(
          watch,
          `/api/v1/namespaces/${namespace}/configmaps`,
          {
            fieldSelector: `metadata.name=${name}`,
            resourceVersion: resourceVersion || undefined,
            allowWatchBookmarks: true,
          },
          `watch ${origin}`,
          onEvent,
          signal,
        ),
      onList: (items) => items.forEach(take),
      onEvent: (type, cm) =>
        type === 'DELETED' ? log.warn(`${origin} was deleted; keeping the current routes`) : take(cm),
      backoff: { baseMs: 250, maxMs: 10_000 },
      onError: (err, delay) =>
        log.warn(`${(err as Error).message}; retrying in ${delay} ms, keeping the current routes`),
    },
    stop.signal,
  );
  return { close: () => stop.abort() };
}
