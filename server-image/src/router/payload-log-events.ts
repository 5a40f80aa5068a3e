/**
 * The pure parts of payload logging (contract/payload-log.ts): which requests are inference calls,
 * the exact per-revision sampling, the CloudEvents an observed exchange becomes, and the bounded
 * queue they wait in for the sink. payload-log.ts is the shell that sends them.
 */
import { CE_COMPONENT, CE_SPEC_VERSION, CE_TYPES, type PayloadLogRoute } from '../../../contract/payload-log.js';
import { ShareSampler } from './balancer.js';
import type { ObservedExchange } from './observe.js';

/** V2 `/v2/models/{m}[/versions/{v}]/infer` and V1 `/v1/models/{m}:predict`, with any query. */
const INFERENCE_PATH = /^\/(?:v2\/models\/[^/?]+(?:\/versions\/[^/?]+)?\/infer|v1\/models\/[^/?:]+:predict)(?:\?|$)/;

/** Whether a request is an inference call: the only ones payload logging samples and sends. */
export function isInferenceCall(method: string, path: string): boolean {
  return method === 'POST' && INFERENCE_PATH.test(path);
}

/**
 * Exact sampling per revision: of every 100 inference calls a revision serves, exactly `percent`
 * are logged, spread evenly (the mirror's error-diffusion counter, one per revision).
 */
export class RevisionSampler {
  private readonly byRevision = new Map<string, ShareSampler>();

  /** @param percent 0..100 */
  constructor(readonly percent: number) {}

  /** Whether this call to `revision` falls inside the share. */
  take(revision: string): boolean {
    let sampler = this.byRevision.get(revision);
    if (!sampler) this.byRevision.set(revision, (sampler = new ShareSampler(this.percent)));
    return sampler.next();
  }
}

/** One CloudEvent in binary content mode, ready to POST (all but `ce-recordedtime`, set when sent). */
export interface PayloadEvent {
  /** The revision that served the exchange (the metrics' label). */
  revision: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** The header KServe's `ce-metadata` names the binary extension's JSON length with. */
const IHCL_METADATA = 'Inference-Header-Content-Length';

/**
 * The events a sampled exchange becomes under `route` (KServe's rules): the request for modes
 * `all` and `request`, whatever the status; the response for `all` and `response` when its status
 * is 200. `source` is the router pod's name, `now` when the response was complete (ms).
 */
export function payloadEvents(
  exchange: ObservedExchange,
  route: PayloadLogRoute,
  source: string,
  now: number,
): PayloadEvent[] {
  const events: PayloadEvent[] = [];
  const event = (type: string, at: number, msg: ObservedExchange['request']): PayloadEvent => {
    const headers: Record<string, string> = {
      'ce-specversion': CE_SPEC_VERSION,
      'ce-id': exchange.requestId,
      'ce-type': type,
      'ce-source': source,
      'ce-time': new Date(at).toISOString(),
      'ce-inferenceservicename': route.modelDeployment,
      'ce-namespace': route.namespace,
      'ce-component': CE_COMPONENT,
      'ce-endpoint': exchange.revision,
      'ce-metadata':
        msg.inferenceHeaderLength === undefined
          ? '{}'
          : JSON.stringify({ [IHCL_METADATA]: [String(msg.inferenceHeaderLength)] }),
    };
    if (msg.contentType !== undefined) headers['content-type'] = msg.contentType;
    return { revision: exchange.revision, headers, body: msg.body };
  };
  if (route.mode !== 'response') events.push(event(CE_TYPES.request, exchange.at, exchange.request));
  if (route.mode !== 'request' && exchange.status === 200)
    events.push(event(CE_TYPES.response, now, exchange.response));
  return events;
}

/**
 * A FIFO bounded in events and in body bytes. A push past either bound is refused (the caller
 * counts it dropped): the newest event goes, never one already waiting, so what is sent stays in
 * arrival order and the memory held stays bounded whatever the sink does.
 */
export class BoundedQueue<T extends { body: Buffer }> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private heldBytes = 0;

  constructor(
    private readonly maxEvents: number,
    private readonly maxBytes: number,
  ) {}

  /** Events waiting. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Body bytes waiting. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Appends `item`, or returns false when it does not fit. */
  push(item: T): boolean {
    if (this.length >= this.maxEvents || this.heldBytes + item.body.length > this.maxBytes) return false;
    this.items.push(item);
    this.heldBytes += item.body.length;
    return true;
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head] as T;
    this.items[this.head++] = undefined;
    this.heldBytes -= item.body.length;
    // Compact once the consumed prefix dominates, so shifting stays O(1) amortized.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
