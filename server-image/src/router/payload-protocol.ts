/**
 * The messages between the router's main thread (payload-log.ts, which samples exchanges) and the
 * payload sender thread (payload-sender.ts, which makes them CloudEvents and POSTs them). Sending
 * costs as much CPU as proxying a request does (a write to the sink per event, its answer read); on
 * its own thread it leaves the main thread, which every request of the router waits for, free.
 *
 * Exchanges cross packed, for the main thread's sake: what a message costs its sender is cloning it,
 * per value and per key. So a batch is one array of strings, one of numbers and one buffer of bodies,
 * the last two transferred, not cloned (a cloned Buffer takes the whole buffer it views along, a
 * socket read's 64 KiB for a body of a few bytes).
 */
import type { PayloadLogRoute } from '../../../contract/payload-log.js';
import type { ObservedExchange } from './observe.js';

/** What became of one event. */
export type PayloadOutcome = 'sent' | 'dropped' | 'failed';

/** Strings per exchange in {@link ExchangeBatch.strings}: revision, request id, the two content types ('' for none). */
const STRINGS = 4;
/**
 * Numbers per exchange in {@link ExchangeBatch.numbers}: at, now, status, then per half its
 * inference header length (NaN for none) and its body's start and end in the bodies (-1 when the
 * half is not logged: not wanted, or dropped for the bounds).
 */
const NUMBERS = 9;

/** Exchanges of one route, packed. */
export interface ExchangeBatch {
  route: PayloadLogRoute;
  strings: string[];
  numbers: Float64Array;
  bodies: ArrayBuffer;
}

/** One exchange to pack: the halves to log (a half left out is not sent), and when its response was complete. */
export interface Packable {
  exchange: ObservedExchange;
  now: number;
  request: boolean;
  response: boolean;
}

/** Packs exchanges of one route; the bodies of the halves to log are copied once, into one buffer. */
export function packExchanges(route: PayloadLogRoute, items: Packable[]): ExchangeBatch {
  let size = 0;
  for (const i of items) {
    if (i.request) size += i.exchange.request.body.byteLength;
    if (i.response) size += i.exchange.response.body.byteLength;
  }
  const bodies = new Uint8Array(size);
  const strings: string[] = [];
  const numbers = new Float64Array(items.length * NUMBERS);
  let at = 0;
  const put = (body: Buffer, logged: boolean, n: number): void => {
    if (!logged) {
      numbers[n] = numbers[n + 1] = -1;
      return;
    }
    bodies.set(body, at);
    numbers[n] = at;
    numbers[n + 1] = at += body.byteLength;
  };
  items.forEach(({ exchange: e, now, request, response }, k) => {
    strings.push(e.revision, e.requestId, e.request.contentType ?? '', e.response.contentType ?? '');
    const n = k * NUMBERS;
    numbers[n] = e.at;
    numbers[n + 1] = now;
    numbers[n + 2] = e.status;
    numbers[n + 3] = e.request.inferenceHeaderLength ?? NaN;
    put(e.request.body, request, n + 4);
    numbers[n + 6] = e.response.inferenceHeaderLength ?? NaN;
    put(e.response.body, response, n + 7);
  });
  return { route, strings, numbers, bodies: bodies.buffer };
}

/** An exchange unpacked: its halves left out have no body. */
export interface UnpackedExchange {
  exchange: Pick<ObservedExchange, 'revision' | 'requestId' | 'at' | 'status' | 'request' | 'response'>;
  now: number;
  request: boolean;
  response: boolean;
}

/** The exchanges of a batch, their bodies views of its buffer. */
export function unpackExchanges(batch: ExchangeBatch): UnpackedExchange[] {
  const { strings, numbers, bodies } = batch;
  const out: UnpackedExchange[] = [];
  for (let k = 0; k * STRINGS < strings.length; k++) {
    const s = k * STRINGS;
    const n = k * NUMBERS;
    const half = (contentType: string, length: number, start: number, end: number) => ({
      ...(contentType === '' ? {} : { contentType }),
      ...(Number.isNaN(length) ? {} : { inferenceHeaderLength: length }),
      body: start < 0 ? Buffer.alloc(0) : Buffer.from(bodies, start, end - start),
    });
    out.push({
      exchange: {
        revision: strings[s],
        requestId: strings[s + 1],
        at: numbers[n],
        status: numbers[n + 2],
        request: half(strings[s + 2], numbers[n + 3], numbers[n + 4], numbers[n + 5]),
        response: half(strings[s + 3], numbers[n + 6], numbers[n + 7], numbers[n + 8]),
      },
      now: numbers[n + 1],
      request: numbers[n + 4] >= 0,
      response: numbers[n + 7] >= 0,
    });
  }
  return out;
}

/** Main thread → sender. */
export type ToSender =
  /** Exchanges to send the logged halves of, in order. */
  | ({ type: 'exchanges' } & ExchangeBatch)
  /** No event will name this URL again: close its connections once its events are done. */
  | { type: 'retire'; url: string }
  /**
   * Send what is queued for at most timeoutMs, then count the rest dropped, cut what is in flight
   * and answer `closed`.
   */
  | { type: 'close'; timeoutMs: number };

/** Sender → main thread. */
export type FromSender =
  /**
   * Events done with since the last report: how many per revision and outcome, and their body bytes
   * in all (the main thread's bound on what it hands over); `waiting`: events not yet being sent.
   */
  | {
      type: 'report';
      outcomes: [revision: string, outcome: PayloadOutcome, count: number][];
      bytes: number;
      waiting: number;
    }
  /** A change between sending and failing, to log (the origin only: a sink's path or query may carry a token). */
  | { type: 'log'; level: 'warn' | 'info'; msg: string; sink: string }
  /** close is done: every event is reported. */
  | { type: 'closed' };
