/**
 * The router's observation tap: what the monitoring parts (payload logging, drift, accuracy) see of
 * the live requests it serves. The proxy asks the observer on arrival whether a request is wanted
 * (sampling is decided there, cheaply), captures the wanted ones' bodies, and hands each exchange
 * over once the caller's whole response is written, so no observer ever delays an answer (a tick
 * later instead would cost a scheduled callback per exchange, and hold each one for nothing). Only
 * buffered requests (≤ the proxy's BUFFER_LIMIT) with responses up to
 * {@link OBSERVE_MAX_RESPONSE_BYTES} are observed; others are counted as skipped.
 */
import { randomUUID } from 'node:crypto';

/** Largest response body an observer is given; larger ones are not observed. */
export const OBSERVE_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** The request id header: the caller's own when valid, else one the router makes. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** One served exchange as the observers see it. */
export interface ObservedExchange {
  revision: string;
  /** The request's id (`x-request-id`, also on the response). */
  requestId: string;
  method: string;
  /** The request's path and query. */
  path: string;
  /** Date.now() when the request arrived. */
  at: number;
  request: ObservedMessage;
  /** The response as the caller received it. */
  status: number;
  response: ObservedMessage;
}

/** A request or response body with the headers needed to decode it. */
export interface ObservedMessage {
  contentType?: string;
  /** `inference-header-content-length` (V2 binary extension), when present. */
  inferenceHeaderLength?: number;
  body: Buffer;
}

/** One monitoring part. */
export interface ExchangeObserver {
  /** Whether this part wants a request just routed to `revision` to `path` (sampling happens here). */
  wants(revision: string, method: string, path: string): boolean;
  /** The caller has the whole response; never throws. */
  observe(exchange: ObservedExchange): void;
}

/**
 * The observers in force: the proxy's one entry point. `wanted` returns the parts that want the
 * request (undefined when none does, the common case, with no allocation).
 */
export class Observers {
  private parts: ExchangeObserver[] = [];

  /** Replaces the parts in force (on every routes change). */
  set(parts: ExchangeObserver[]): void {
    this.parts = parts;
  }

  /** Whether any part is on: then every response carries a request id. */
  get active(): boolean {
    return this.parts.length > 0;
  }

  /** The parts that want this request, or undefined. */
  wanted(revision: string, method: string, path: string): ExchangeObserver[] | undefined {
    let out: ExchangeObserver[] | undefined;
    for (const p of this.parts) if (p.wants(revision, method, path)) (out ??= []).push(p);
    return out;
  }
}

const VALID_REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/** The caller's request id when it is one (1..200 visible ASCII characters), else a new UUID. */
export function requestIdOf(callerValue: string | undefined): string {
  return callerValue !== undefined && VALID_REQUEST_ID.test(callerValue) ? callerValue : randomUUID();
}
