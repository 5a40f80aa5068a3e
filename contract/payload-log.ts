/**
 * Part of the cross-process contract (contract/): payload logging, between the operator (which
 * writes a route's `monitoring.payloadLog` from spec.monitoring.payloadLogging) and the router
 * (which sends the sampled request/response pairs it serves to the sink).
 *
 * Format on the wire, as KServe's inference logger sends it (kserve/kserve pkg/logger/worker.go
 * and handler.go, so a sink written for KServe, e.g. one built on a CloudEvents SDK, works
 * unchanged): one HTTP `POST <url>` per payload, CloudEvents 1.0 in binary content mode. The body
 * is the request's or response's bytes exactly as the caller sent or received them; the headers:
 * - `ce-specversion`: `1.0`.
 * - `ce-id`: the exchange's request id (`x-request-id`: the caller's own when valid, else a UUID;
 *   the response carries it too). The request and the response of one exchange share it, as in
 *   KServe: a sink joins them on `ce-id` and tells them apart by `ce-type`.
 * - `ce-type`: {@link CE_TYPES}, `org.kubeflow.serving.inference.request` or `.response`.
 * - `ce-source`: the router pod's name (KServe: the serving pod's name, its webhook's `--source-uri`).
 * - `ce-time`: RFC 3339 (UTC, ms): when the request arrived (request) or the response was complete
 *   (response). `ce-recordedtime`: when the event was sent.
 * - `ce-inferenceservicename`: `modelDeployment`; `ce-namespace`: `namespace`;
 *   `ce-component`: `predictor`.
 * - `ce-endpoint`: the revision that served the request (KServe: `default` or `canary`, its two
 *   revisions).
 * - `ce-metadata`: a JSON object of header name to values, as KServe's; it carries
 *   `Inference-Header-Content-Length` for V2 binary-extension bodies (the JSON header's length,
 *   needed to split the body), else `{}`.
 * - `content-type`: the payload's own content-type, when it had one.
 *
 * What is logged, as in KServe: for a sampled inference call (`POST /v2/models/{m}[/versions/{v}]/infer`
 * or `POST /v1/models/{m}:predict`; nothing else is sampled or counted), the request (modes `all`
 * and `request`) whatever the outcome, and the response (modes `all` and `response`) only when its
 * status is 200. No header of the caller's is sent (no Authorization, no cookie): only the above.
 * Exchanges the router's tap does not observe (streamed request bodies over its 1 MiB buffer,
 * responses over 16 MiB: server-image/src/router/observe.ts) are not logged.
 * Two deliberate differences: KServe labels the response with the request's content-type, we with
 * the response's own; and the event is counted `sent` only on a 2xx answer from the sink (KServe
 * counts any HTTP answer as delivered).
 *
 * Delivery is best effort: events wait in a bounded queue in the router pod (events and bytes,
 * MODELSHIP_ROUTER_PAYLOAD_QUEUE and MODELSHIP_ROUTER_PAYLOAD_QUEUE_BYTES); when it is full a new
 * event is dropped, never the caller delayed. A failed send (network error, timeout, non-2xx) is
 * not retried. Each event's fate is counted in `modelship_router_payload_events_total{revision,
 * outcome="sent|dropped|failed"}`.
 */

/** The payload-logging part of a Routes document's `monitoring`. */
export interface PayloadLogRoute {
  /** The sink: an http:// or https:// URL. */
  url: string;
  /**
   * Percent of the inference calls each revision serves that are logged, 0..100, exact in the
   * sense of the routes' weights (over every 100, exactly `percent`).
   */
  percent: number;
  /** What is logged of a sampled exchange. */
  mode: PayloadLogMode;
  /** The ModelDeployment's name (`ce-inferenceservicename`). */
  modelDeployment: string;
  /** Its namespace (`ce-namespace`). */
  namespace: string;
}

/** What a sampled exchange logs: both halves, the request only, or the response only. */
export type PayloadLogMode = 'all' | 'request' | 'response';

/** The modes, for validation. */
export const PAYLOAD_LOG_MODES: readonly PayloadLogMode[] = ['all', 'request', 'response'];

/** The CloudEvents `ce-type` of each half, as KServe names them. */
export const CE_TYPES = {
  request: 'org.kubeflow.serving.inference.request',
  response: 'org.kubeflow.serving.inference.response',
} as const;

/** `ce-specversion`: CloudEvents 1.0. */
export const CE_SPEC_VERSION = '1.0';

/** `ce-component`: the router logs what the model (KServe's predictor) was asked and answered. */
export const CE_COMPONENT = 'predictor';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Validates a route's `monitoring.payloadLog`; the error names the field. */
export function validatePayloadLogRoute(
  v: unknown,
  where: string,
): { ok: true; value: PayloadLogRoute } | { ok: false; error: string } {
  const fail = (error: string) => ({ ok: false as const, error: `${where}${error}` });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(': must be an object');
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!['url', 'percent', 'mode', 'modelDeployment', 'namespace'].includes(key))
      return fail(`.${key}: unknown field`);
  }
  let url: URL;
  try {
    url = new URL(String(o.url));
  } catch {
    return fail(`.url: not a valid URL: ${JSON.stringify(o.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail('.url: must be an http:// or https:// URL');
  if (url.username || url.password) return fail('.url: must not carry credentials');
  if (typeof o.percent !== 'number' || !Number.isInteger(o.percent) || o.percent < 0 || o.percent > 100) {
    return fail('.percent: must be an integer between 0 and 100');
  }
  if (!PAYLOAD_LOG_MODES.includes(o.mode as PayloadLogMode))
    return fail(`.mode: must be one of ${PAYLOAD_LOG_MODES.join(', ')}`);
  for (const key of ['modelDeployment', 'namespace'] as const) {
    if (typeof o[key] !== 'string' || (o[key] as string).length > 253 || !DNS_LABEL.test(o[key] as string)) {
      return fail(`.${key}: must be a DNS label`);
    }
  }
  return {
    ok: true,
    value: {
      url: String(o.url),
      percent: o.percent,
      mode: o.mode as PayloadLogMode,
      modelDeployment: o.modelDeployment as string,
      namespace: o.namespace as string,
    },
  };
}
