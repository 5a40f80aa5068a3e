import { KubeApiError, type WatchEvent } from '../../../common/kubeapi.js';
import type { KubeApi, KubeObject, KubeRequest } from './client.js';
import { Informer, keyOf, type InformerOptions } from './informer.js';

const obj = (name: string, rv: string): KubeObject => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });

/**
 * A fake API whose lists return the current "server" contents and whose watches are scripted:
 * each watch call takes the next script, which may emit events and then end, fail or hang.
 */
class ScriptedApi implements KubeApi {
  server = new Map<string, KubeObject>();
  serverRv = '10';
  watchCalls: Record<string, unknown>[] = [];
  listCalls = 0;
  scripts: ((emit: (e: WatchEvent<KubeObject>) => void, signal: AbortSignal) => Promise<void>)[] = [];

  async request<T>(req: KubeRequest): Promise<T> {
    this.listCalls++;
    expect(req.query?.labelSelector).toBe('app=x');
    return { metadata: { resourceVersion: this.serverRv }, items: [...this.server.values()] } as T;
  }

  async watch(
    _path: string,
    query: KubeRequest['query'],
    onEvent: (e: WatchEvent<KubeObject>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.watchCalls.push({ ...query });
    const script = this.scripts.shift();
    if (!script) return new Promise((resolve) => signal.addEventListener('abort', () => resolve()));
    return script(onEvent, signal);
  }
}

/** Polls cond for up to a second; fails naming what it waited for rather than hanging. */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!cond()) throw new Error(`waited 1 s for ${what}`);
}

/**
 * Starts an informer of ConfigMaps labelled app=x over `api` with `extra` options, recording each
 * event as `<type>:<name>` in `seen`.
 */
function startInformer(api: KubeApi, seen: string[], extra: Partial<InformerOptions> = {}): Informer {
  const inf = new Informer(api, {
    path: '/api/v1/configmaps',
    apiVersion: 'v1',
    kind: 'ConfigMap',
    labelSelector: 'app=x',
    retryBaseMs: 1,
    ...extra,
  });
  inf.on((type, o) => seen.push(`${type}:${o.metadata.name}`));
  inf.start();
  return inf;
}

describe('Informer', () => {
  it('lists, watches from the list version, re-watches from the last version after the stream ends', async () => {
    const api = new ScriptedApi();
    api.server.set('ns/a', obj('a', '5'));
    api.scripts.push(async (emit) => {
      emit({ type: 'ADDED', object: obj('b', '11') });
      emit({ type: 'MODIFIED', object: obj('a', '12') });
      emit({ type: 'BOOKMARK', object: obj('', '13') });
    });
    const seen: string[] = [];
    const inf = startInformer(api, seen);
    await inf.waitForSync();
    await until('the second watch', () => api.watchCalls.length === 2);
    expect(api.watchCalls[0]!.resourceVersion).toBe('10');
    expect(api.watchCalls[1]!.resourceVersion).toBe('13');
    expect(api.listCalls).toBe(1);
    expect(seen).toEqual(['add:a', 'add:b', 'update:a']);
    expect(inf.get('ns/a')!.metadata.resourceVersion).toBe('12');
    // List items carry no apiVersion/kind; the cache stamps them so objects can be addressed.
    expect(inf.list().map((o) => `${o.apiVersion} ${o.kind}`)).toEqual(['v1 ConfigMap', 'v1 ConfigMap']);
    await inf.stop();
  });

  it('relists after 410 Gone and reports what vanished meanwhile as deletes', async () => {
    const api = new ScriptedApi();
    api.server.set('ns/a', obj('a', '5'));
    api.server.set('ns/b', obj('b', '6'));
    api.scripts.push(async (emit) => {
      api.server.delete('ns/a');
      api.server.set('ns/b', obj('b', '20'));
      api.serverRv = '21';
      emit({ type: 'ERROR', object: { code: 410, reason: 'Expired', message: 'too old' } as unknown as KubeObject });
    });
    const seen: string[] = [];
    const inf = startInformer(api, seen);
    await until('the second watch', () => api.watchCalls.length === 2);
    expect(api.listCalls).toBe(2);
    expect(api.watchCalls[1]!.resourceVersion).toBe('21');
    expect(seen).toEqual(['add:a', 'add:b', 'delete:a', 'update:b']);
    expect(inf.list().map(keyOf)).toEqual(['ns/b']);
    await inf.stop();
  });

  it('keeps going after watch errors without relisting, and resyncs the cache periodically', async () => {
    const api = new ScriptedApi();
    api.server.set('ns/a', obj('a', '5'));
    const errors: unknown[] = [];
    api.scripts.push(async () => {
      throw new KubeApiError('watch: connection refused', 0, 'Unreachable');
    });
    api.scripts.push(async () => {
      throw new KubeApiError('watch: 500', 500, 'InternalError');
    });
    const seen: string[] = [];
    const inf = startInformer(api, seen, { resyncMs: 20, onError: (e) => errors.push(e) });
    await until('the third watch', () => api.watchCalls.length === 3);
    expect(errors).toHaveLength(2);
    expect(api.listCalls).toBe(1);
    await until('a resync', () => seen.includes('resync:a'));
    await inf.stop();
  });
});
