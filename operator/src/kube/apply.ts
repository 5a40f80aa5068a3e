/**
 * Writes desired state: server-side apply with one field manager, pruning of owned objects that are
 * no longer desired, and status writes through the status subresource. Every error names the verb,
 * the kind and namespace/name.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../../common/json.js';
import { isStatus, type KubeApi, type KubeObject } from './client.js';
import { pathFor, resourceFor } from './resources.js';

/** The single field manager the operator applies with. */
export const FIELD_MANAGER = 'modelship';

/** Cache key for any object: apiVersion/kind/namespace/name. */
export function objectKey(obj: KubeObject): string {
  return `${obj.apiVersion}/${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

function describe(obj: KubeObject): string {
  const ns = obj.metadata.namespace ? `${obj.metadata.namespace}/` : '';
  return `${obj.kind} ${ns}${obj.metadata.name}`;
}

/** Prefixes an error's message with what was being done. */
function wrap(verb: string, obj: KubeObject, err: unknown): Error {
  return new Error(`${verb} ${describe(obj)}: ${(err as Error).message}`, { cause: err });
}

/** Deep equality of JSON values, ignoring key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** Server-side applies one object (force: the operator owns the fields it sets). */
export async function applyObject(api: KubeApi, obj: KubeObject, subresource?: string): Promise<KubeObject> {
  const type = resourceFor(obj.apiVersion ?? '', obj.kind ?? '');
  try {
    return await api.request<KubeObject>({
      method: 'PATCH',
      path: pathFor(type, obj.metadata.namespace, obj.metadata.name, subresource),
      query: { fieldManager: FIELD_MANAGER, force: true },
      body: obj,
      contentType: 'application/apply-patch+yaml',
    });
  } catch (err) {
    throw wrap(subresource ? `apply ${subresource} of` : 'apply', obj, err);
  }
}

/** Deletes one object if it is still the same object (uid precondition); gone already is fine. */
export async function deleteObject(api: KubeApi, obj: KubeObject): Promise<boolean> {
  const type = resourceFor(obj.apiVersion ?? '', obj.kind ?? '');
  try {
    await api.request({
      method: 'DELETE',
      path: pathFor(type, obj.metadata.namespace, obj.metadata.name),
      body: {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        propagationPolicy: 'Background',
        preconditions: { uid: obj.metadata.uid },
      },
    });
    return true;
  } catch (err) {
    if (isStatus(err, 404) || isStatus(err, 409)) return false;
    throw wrap('delete', obj, err);
  }
}

/** Result of one applyAll. */
export interface ApplyResult {
  applied: number;
  skipped: number;
}

/**
 * What of a live object a change by someone else would show in: everything but status and the
 * volatile metadata (resourceVersion, managedFields, timestamps) — spec (or data), labels,
 * annotations and ownerReferences. Status updates by other controllers (the Deployment or HPA
 * controller) leave it unchanged, so they cause no re-apply; a hand edit of anything we set does.
 */
export function liveFingerprint(obj: KubeObject): string {
  const { status: _status, metadata, ...content } = obj;
  const basis = { content, l: metadata.labels ?? {}, a: metadata.annotations ?? {}, o: metadata.ownerReferences ?? [] };
  return createHash('sha256').update(canonicalJson(basis)).digest('hex');
}

/**
 * Applies desired objects, skipping those that cannot have changed: the same desired content was
 * applied before and the cached live object still has the fingerprint the apply left it with.
 * Any change to the live object's spec or metadata (a hand edit, a deletion) or to the desired
 * content makes it apply again, so correctness never rests on the memo.
 */
export class Applier {
  /** Owner key → (object key → what was applied and the version it produced). */
  private readonly memo = new Map<string, Map<string, { hash: string; fingerprint: string }>>();

  constructor(private readonly api: KubeApi) {}

  /**
   * Applies an owner's desired objects unless provably unchanged; lookup returns the cached live
   * object. The memo keeps only this call's objects, so pruned ones drop out.
   */
  async applyAll(
    owner: string,
    desired: KubeObject[],
    lookup: (obj: KubeObject) => KubeObject | undefined,
  ): Promise<ApplyResult> {
    const result: ApplyResult = { applied: 0, skipped: 0 };
    const before = this.memo.get(owner) ?? new Map<string, { hash: string; fingerprint: string }>();
    const after = new Map<string, { hash: string; fingerprint: string }>();
    try {
      for (const obj of desired) {
        const key = objectKey(obj);
        const hash = createHash('sha256').update(canonicalJson(obj)).digest('hex');
        const live = lookup(obj);
        const seen = before.get(key);
        if (seen && live && seen.hash === hash && liveFingerprint(live) === seen.fingerprint) {
          after.set(key, seen);
          result.skipped++;
          continue;
        }
        const applied = await applyObject(this.api, obj);
        after.set(key, { hash, fingerprint: liveFingerprint(applied) });
        result.applied++;
      }
    } finally {
      this.memo.set(owner, after);
    }
    return result;
  }

  /** Drops everything remembered for an owner (it was deleted). */
  forget(owner: string): void {
    this.memo.delete(owner);
  }
}

/** True when obj has an ownerReference to the given uid. */
export function isOwnedBy(obj: KubeObject, ownerUid: string): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.uid === ownerUid);
}

/**
 * Deletes owned objects that are not desired. Only objects with an ownerReference to the owner's
 * uid are candidates, so nothing a user made by hand is ever pruned.
 */
export async function prune(
  api: KubeApi,
  owned: KubeObject[],
  desired: KubeObject[],
  ownerUid: string,
): Promise<KubeObject[]> {
  const wanted = new Set(desired.map(objectKey));
  const pruned: KubeObject[] = [];
  for (const obj of owned) {
    if (!isOwnedBy(obj, ownerUid) || wanted.has(objectKey(obj)) || obj.metadata.deletionTimestamp) continue;
    if (await deleteObject(api, obj)) pruned.push(obj);
  }
  return pruned;
}

/**
 * Writes status through the status subresource with server-side apply, only when it differs from
 * what the cached object reports, and remembers per object the resourceVersion each write replaced.
 * An informer shows a write only when its watch event arrives; until then the cache still holds the
 * version the write replaced, and deciding on it would decide again what the write recorded (a
 * rollback, its webhooks and its Event, twice). {@link StatusWriter.behind} tells a reconcile so.
 */
export class StatusWriter {
  /** namespace/name → the resourceVersion its last status write replaced (one kind per writer). */
  private readonly replaced = new Map<string, string>();

  constructor(private readonly api: KubeApi) {}

  /** True while the cached copy is the version this writer's last write of its status replaced. */
  behind(cached: KubeObject): boolean {
    const rv = cached.metadata.resourceVersion;
    return rv !== undefined && this.replaced.get(nameOf(cached)) === rv;
  }

  /** Applies `status` unless the cached object already reports it; returns whether it wrote. */
  async writeIfChanged(cached: KubeObject, status: unknown): Promise<boolean> {
    if (jsonEqual(cached.status ?? {}, status)) return false;
    const written = await applyObject(
      this.api,
      {
        apiVersion: cached.apiVersion,
        kind: cached.kind,
        metadata: { name: cached.metadata.name, namespace: cached.metadata.namespace },
        status,
      },
      'status',
    );
    const rv = cached.metadata.resourceVersion;
    // A write the server found changed nothing leaves the version as it was: nothing to wait for.
    if (rv !== undefined && written.metadata?.resourceVersion !== rv) this.replaced.set(nameOf(cached), rv);
    return true;
  }

  /** Drops what was remembered of the object with this namespace/name (it was deleted). */
  forget(key: string): void {
    this.replaced.delete(key);
  }
}

function nameOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}
