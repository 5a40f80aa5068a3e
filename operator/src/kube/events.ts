/**
 * Records Kubernetes Events (events.k8s.io/v1) about a ModelDeployment. The same reason and note
 * about the same object is recorded once per window, so a retry loop cannot flood the namespace.
 */
import { randomBytes } from 'node:crypto';
import type { KubeApi, KubeObject } from './client.js';
import { pathFor, resourceFor } from './resources.js';

/** Normal for progress, Warning for problems a user must act on. */
export type EventType = 'Normal' | 'Warning';

/** The controller name Events are reported under. */
export const REPORTING_CONTROLLER = 'modelship.dev/operator';

/** RFC 3339 with microseconds, the MicroTime format the API server requires for eventTime. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** Builds the Event object (pure, for tests). */
export function eventFor(
  regarding: KubeObject,
  type: EventType,
  reason: string,
  note: string,
  instance: string,
  nowMs: number,
): KubeObject {
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: {
      // Unique like client-go's "<name>.<hex time>"; the random suffix keeps two operators apart.
      name: `${regarding.metadata.name}.${nowMs.toString(16)}${randomBytes(3).toString('hex')}`,
      namespace: regarding.metadata.namespace,
    },
    eventTime: microTime(nowMs),
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: instance,
    action: 'Reconcile',
    reason,
    type,
    note: note.slice(0, 1024),
    regarding: {
      apiVersion: regarding.apiVersion,
      kind: regarding.kind,
      name: regarding.metadata.name,
      namespace: regarding.metadata.namespace,
      uid: regarding.metadata.uid,
    },
  };
}

/** Sends Events, deduplicated per object+reason+note within a window. */
export class EventRecorder {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly api: KubeApi,
    private readonly instance: string,
    private readonly windowMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Records an Event unless the same one was recorded within the window. Failures are returned,
   * not thrown: an Event is never worth failing a reconcile over.
   */
  async record(regarding: KubeObject, type: EventType, reason: string, note: string): Promise<Error | undefined> {
    const t = this.now();
    for (const [k, at] of this.recent) if (t - at >= this.windowMs) this.recent.delete(k);
    const key = `${regarding.metadata.uid}|${type}|${reason}|${note}`;
    if (this.recent.has(key)) return undefined;
    this.recent.set(key, t);
    const ev = eventFor(regarding, type, reason, note, this.instance, t);
    try {
      await this.api.request({
        method: 'POST',
        path: pathFor(resourceFor('events.k8s.io/v1', 'Event'), ev.metadata.namespace),
        body: ev,
      });
      return undefined;
    } catch (err) {
      this.recent.delete(key);
      return new Error(
        `create Event ${ev.metadata.namespace}/${ev.metadata.name} (${reason}): ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
}
