/**
 * Where routes come from. Both sources hand every candidate document (as text) to `onText`; the
 * caller validates it and keeps the last good routes when it is invalid. Neither ever throws into
 * the process: failures are logged and retried.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApiException, CoreV1Api, KubeConfig, Watch, type V1ConfigMap } from '@kubernetes/client-node';
import { ROUTES_KEY } from '../../../contract/keys.js';
import type { Logger } from '../log.js';

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
 * Watches one ConfigMap through the API server: reads it, then watches it (field selector on its
 * name) from the read's resourceVersion, so an update arrives as one watch event within
 * milliseconds. When the watch ends or fails (API server restart, 410 Gone, network) it backs off
 * (up to 10 s) and reads afresh. A deleted ConfigMap or one without the key is logged; the
 * previous routes stay.
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
  let stopped = false;
  let abort: AbortController | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;
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

  const retry = (why: string): void => {
    if (stopped || retryTimer) return;
    failures++;
    const delay = Math.min(10_000, 250 * 2 ** Math.min(failures - 1, 6));
    log.warn(`watch ${origin}: ${why}; retrying in ${delay} ms, keeping the current routes`);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void start();
    }, delay);
  };

  const start = async (): Promise<void> => {
    if (stopped) return;
    let resourceVersion: string | undefined;
    try {
      const cm = await api.readNamespacedConfigMap({ name, namespace });
      resourceVersion = cm.metadata?.resourceVersion;
      take(cm);
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) {
        log.warn(`${origin} not found; waiting for it`);
      } else {
        retry(`read: ${(err as Error).message}`);
        return;
      }
    }
    if (stopped) return;
    const watchStarted = Date.now();
    try {
      abort = await watch.watch(
        `/api/v1/namespaces/${namespace}/configmaps`,
        { fieldSelector: `metadata.name=${name}`, resourceVersion, allowWatchBookmarks: true },
        (phase, obj: V1ConfigMap) => {
          failures = 0;
          if (phase === 'ADDED' || phase === 'MODIFIED') take(obj);
          else if (phase === 'DELETED') log.warn(`${origin} was deleted; keeping the current routes`);
          else if (phase === 'ERROR') {
            // Typically 410 Gone: our resourceVersion is too old. End this watch; `done` re-reads.
            log.info(`watch ${origin}: server reported ${JSON.stringify(obj)}; re-reading`);
            abort?.abort();
          }
        },
        (err: unknown) => {
          if (stopped) return;
          // A watch that held for a while was healthy: the next failure starts the backoff afresh.
          const lasted = Date.now() - watchStarted >= 1000;
          if (lasted) failures = 0;
          const aborted = err && (err as Error).name === 'AbortError';
          if (err && !aborted) retry(`watch ended: ${(err as Error).message ?? String(err)}`);
          else if (!lasted) retry('watch closed at once');
          else void start();
        },
      );
    } catch (err) {
      retry(`watch: ${(err as Error).message}`);
    }
  };

  void start();
  return {
    close: () => {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      abort?.abort();
    },
  };
}
