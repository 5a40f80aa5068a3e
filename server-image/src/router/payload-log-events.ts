/**
 * The pure parts of payload logging (contract/payload-log.ts): which requests are inference calls,
 * the exact per-revision sampling, and the CloudEvents an observed exchange becomes. payload-log.ts
 * and payload-sender.ts are the shell that sends them.
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
 * Which halves of a sampled exchange are logged (KServe's rules): the request for modes `all` and
 * `request`, whatever the status; the response for `all` and `response` when its status is 200.
 */
export function loggedHalves(mode: PayloadLogRoute['mode'], status: number): { request: boolean; response: boolean } {
  return { request: mode !== 'response', response: mode !== 'request' && status === 200 };
}

/**
 * The events a sampled exchange becomes under `route`: its `halves` ({@link loggedHalves} unless
 * told). `source` is the router pod's name, `now` when the response was complete (ms).
 */
export function payloadEvents(
  exchange: Pick<ObservedExchange, 'revision' | 'requestId' | 'at' | 'status' | 'request' | 'response'>,
  route: PayloadLogRoute,
  source: string,
  now: number,
  halves = loggedHalves(route.mode, exchange.status),
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
  if (halves.request) events.push(event(CE_TYPES.request, exchange.at, exchange.request));
  if (halves.response) events.push(event(CE_TYPES.response, now, exchange.response));
  return events;
}
