import type { KubeApi, KubeObject, KubeRequest } from './client.js';
import { KubeApiError } from '../../../common/kubeapi.js';
import { Applier, jsonEqual, prune, StatusWriter } from './apply.js';
import { EventRecorder, microTime } from './events.js';

/** Records requests; PATCH answers with a fresh resourceVersion. */
class RecordingApi implements KubeApi {
  calls: KubeRequest[] = [];
  rv = 100;
  fail?: KubeApiError;
  async request<T>(req: KubeRequest): Promise<T> {
    this.calls.push(req);
    if (this.fail) throw this.fail;
    const body = (req.body ?? {}) as KubeObject;
    return { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } } as T;
  }
  watch(): Promise<void> {
    throw new Error('no watch');
  }
}

const deployment = (replicas: number): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'digits-abc', namespace: 'ml' },
  spec: { replicas },
});

describe('Applier', () => {
  it('applies with the modelship field manager and force, then skips while nothing changed', async () => {
    const api = new RecordingApi();
    const applier = new Applier(api);
    const live = new Map<string, KubeObject>();
    const lookup = (o: KubeObject) => live.get(o.metadata.name);
    expect(await applier.applyAll('ml/digits', [deployment(2)], lookup)).toEqual({ applied: 1, skipped: 0 });
    const call = api.calls[0]!;
    expect(call).toMatchObject({
      method: 'PATCH',
      path: '/apis/apps/v1/namespaces/ml/deployments/digits-abc',
      query: { fieldManager: 'modelship', force: true },
      contentType: 'application/apply-patch+yaml',
    });
    // Not yet in the cache: apply again (harmless, SSA is idempotent).
    expect(await applier.applyAll('ml/digits', [deployment(2)], lookup)).toEqual({ applied: 1, skipped: 0 });
    live.set('digits-abc', {
      ...deployment(2),
      metadata: { ...deployment(2).metadata, resourceVersion: String(api.rv) },
    });
    expect(await applier.applyAll('ml/digits', [deployment(2)], lookup)).toEqual({ applied: 0, skipped: 1 });
    // Desired changes → apply.
    expect(await applier.applyAll('ml/digits', [deployment(3)], lookup)).toEqual({ applied: 1, skipped: 0 });
    live.set('digits-abc', {
      ...deployment(3),
      metadata: { ...deployment(3).metadata, resourceVersion: String(api.rv) },
    });
    expect(await applier.applyAll('ml/digits', [deployment(3)], lookup)).toEqual({ applied: 0, skipped: 1 });
    // Someone edits the live object → apply to restore.
    live.set('digits-abc', { ...deployment(9), metadata: { ...deployment(9).metadata, resourceVersion: '5000' } });
    expect(await applier.applyAll('ml/digits', [deployment(3)], lookup)).toEqual({ applied: 1, skipped: 0 });
  });

  it('ignores status-only changes but not spec or label edits', async () => {
    const api = new RecordingApi();
    const applier = new Applier(api);
    const liveCopy = (
      replicas: number,
      rv: string,
      extra: Partial<KubeObject> = {},
      labels?: Record<string, string>,
    ): KubeObject => ({
      ...deployment(replicas),
      ...extra,
      metadata: { ...deployment(replicas).metadata, resourceVersion: rv, labels, managedFields: [{ manager: rv }] },
    });
    const desired = deployment(2);
    let live = liveCopy(2, '1');
    await applier.applyAll('ml/digits', [desired], () => live);
    live = liveCopy(2, '777', { status: { readyReplicas: 2 } }); // another controller wrote status
    expect(await applier.applyAll('ml/digits', [desired], () => live)).toEqual({ applied: 0, skipped: 1 });
    live = liveCopy(5, '778'); // someone changed the spec
    expect(await applier.applyAll('ml/digits', [desired], () => live)).toEqual({ applied: 1, skipped: 0 });
    live = liveCopy(2, '779', {}, { hand: 'edit' }); // a label edit
    expect(await applier.applyAll('ml/digits', [desired], () => live)).toEqual({ applied: 1, skipped: 0 });
  });

  it('names the verb, kind and object in errors', async () => {
    const api = new RecordingApi();
    api.fail = new KubeApiError('PATCH /x: 422 spec.replicas: Invalid value', 422, 'Invalid');
    await expect(new Applier(api).applyAll('ml/digits', [deployment(2)], () => undefined)).rejects.toThrow(
      /^apply Deployment ml\/digits-abc: PATCH \/x: 422 spec\.replicas: Invalid value$/,
    );
  });
});

describe('prune', () => {
  it('deletes only owned objects that are no longer desired, with a uid precondition', async () => {
    const api = new RecordingApi();
    const owned = (name: string, uid: string, owner: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name,
        namespace: 'ml',
        uid,
        ownerReferences: [
          { apiVersion: 'modelship.dev/v1alpha1', kind: 'ModelDeployment', name: 'digits', uid: owner },
        ],
      },
    });
    const keep = owned('digits-new', 'u1', 'md-uid');
    const old = owned('digits-old', 'u2', 'md-uid');
    const foreign = owned('digits-hand', 'u3', 'other');
    const pruned = await prune(api, [keep, old, foreign], [keep], 'md-uid');
    expect(pruned.map((o) => o.metadata.name)).toEqual(['digits-old']);
    expect(api.calls).toHaveLength(1);
    expect(api.calls[0]).toMatchObject({
      method: 'DELETE',
      path: '/api/v1/namespaces/ml/services/digits-old',
      body: { preconditions: { uid: 'u2' } },
    });
  });
});

describe('StatusWriter', () => {
  const md: KubeObject = {
    apiVersion: 'modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'digits', namespace: 'ml', resourceVersion: '7' },
    status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True' }] },
  };
  it('writes nothing when the status is equal regardless of key order', async () => {
    const api = new RecordingApi();
    const writer = new StatusWriter(api);
    expect(
      await writer.writeIfChanged(md, { conditions: [{ status: 'True', type: 'Ready' }], observedGeneration: 2 }),
    ).toBe(false);
    expect(api.calls).toHaveLength(0);
    expect(writer.behind(md)).toBe(false);
  });
  it('applies the status subresource when it differs', async () => {
    const api = new RecordingApi();
    expect(await new StatusWriter(api).writeIfChanged(md, { observedGeneration: 3 })).toBe(true);
    expect(api.calls[0]).toMatchObject({
      method: 'PATCH',
      path: '/apis/modelship.dev/v1alpha1/namespaces/ml/modeldeployments/digits/status',
      body: { status: { observedGeneration: 3 } },
    });
  });
  it('is behind while the cache still holds the version its write replaced, and not once the watch brought the next', async () => {
    const writer = new StatusWriter(new RecordingApi());
    await writer.writeIfChanged(md, { observedGeneration: 3 });
    expect(writer.behind(md)).toBe(true);
    expect(writer.behind({ ...md, metadata: { ...md.metadata, resourceVersion: '101' } })).toBe(false);
    expect(writer.behind({ ...md, metadata: { ...md.metadata, name: 'other' } })).toBe(false);
    writer.forget('ml/digits');
    expect(writer.behind(md)).toBe(false);
  });
  it('waits for nothing after a write the server found changed nothing (the version stays)', async () => {
    const api = new RecordingApi();
    api.request = <T>(req: KubeRequest): Promise<T> =>
      Promise.resolve({ ...(req.body as KubeObject), metadata: md.metadata } as T);
    const writer = new StatusWriter(api);
    expect(await writer.writeIfChanged(md, { observedGeneration: 3 })).toBe(true);
    expect(writer.behind(md)).toBe(false);
  });
});

describe('jsonEqual', () => {
  it('compares ignoring key order but not array order', () => {
    expect(jsonEqual({ b: 1, a: { d: 2, c: 3 } }, { a: { c: 3, d: 2 }, b: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
  });
});

describe('EventRecorder', () => {
  it('creates events.k8s.io/v1 Events once per object, reason and note within the window', async () => {
    const api = new RecordingApi();
    let t = Date.UTC(2026, 0, 1);
    const rec = new EventRecorder(api, 'op-1', 60_000, () => t);
    const md: KubeObject = {
      apiVersion: 'modelship.dev/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: 'digits', namespace: 'ml', uid: 'u' },
    };
    await rec.record(md, 'Normal', 'Created', 'created revision abc');
    await rec.record(md, 'Normal', 'Created', 'created revision abc');
    await rec.record(md, 'Warning', 'InvalidSpec', 'spec.model.sha256: bad');
    expect(api.calls).toHaveLength(2);
    expect(api.calls[0]).toMatchObject({
      method: 'POST',
      path: '/apis/events.k8s.io/v1/namespaces/ml/events',
      body: {
        reason: 'Created',
        type: 'Normal',
        reportingController: 'modelship.dev/operator',
        reportingInstance: 'op-1',
        regarding: { kind: 'ModelDeployment', name: 'digits', uid: 'u' },
        eventTime: microTime(t),
      },
    });
    t += 60_000;
    await rec.record(md, 'Normal', 'Created', 'created revision abc');
    expect(api.calls).toHaveLength(3);
    expect(microTime(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00.000000Z');
  });
});
