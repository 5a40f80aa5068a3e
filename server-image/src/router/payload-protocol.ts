/**
 * The messages between the router's main thread (payload-log.ts, which samples exchanges) and the
 * payload sender thread (payload-sender.ts, which makes them CloudEvents and POSTs them). Sending
 * costs as much CPU as proxying a request does (a write to the sink per event, its answer read); on
 * its own thread it leaves the main thread, which every request of the router waits for, free.
 *
 * Exchanges cross packed, for the main thread's sake: what a message costs its sender is cloning it,
 * per value and per key (bench-payload-log profiled a batch's array of strings as the dearest part of
 * a hand-over). So a batch is one array of numbers and one buffer holding the strings (latin1, as
 * Node gives header values) and the bodies, both transferred, not cloned (a cloned Buffer would also
 * take the whole buffer it views along, a socket read's 64 KiB for a body of a few bytes).
 */
import type { PayloadLogRoute } from '../../../contract/payload-log.js';
import type { ObservedExchange } from './observe.js';

/** What became of one event. */
export type PayloadOutcome = 'sent' | 'dropped' | 'failed';

/**
 * Numbers per exchange in {@link ExchangeBatch.numbers}: at, now, status; the start and end in the
 * bytes of the revision, the request id and the two content types (start -1: none); then per half
 * its inference header length (NaN for none) and its body's start and end in the bytes (-1 when
 * the half is not logged: not wanted, or dropped for the bounds).
 */
const NUMBERS = 17;
const AT = 0;
const NOW = 1;
const STATUS = 2;
const REVISION = 3;
const REQUEST_ID = 5;
const REQUEST_TYPE = 7;
const RESPONSE_TYPE = 9;
const REQUEST = 11;
const RESPONSE = 14;

/** Exchanges of one route, packed. */
export interface ExchangeBatch {
  route: PayloadLogRoute;
  numbers: Float64Array;
  bytes: ArrayBuffer;
}

/** One exchange to pack: the halves to log (a half left out is not sent), and when its response was complete. */
export interface Packable {
  exchange: ObservedExchange;
  now: number;
  request: boolean;
  response: boolean;
}

/** Exchanges and bytes an {@link ExchangePacker} first makes room for; it doubles as needed. */
const FIRST_EXCHANGES = 64;
const FIRST_BYTES = 64 * 1024;
/** Buffers back from the sender an {@link ExchangePacker} keeps for its next batches. */
const MAX_SPARE = 4;

/**
 * Packs exchanges of one route as they are observed. The strings and the bodies of the halves to log
 * are copied at once into one buffer, so a socket read they are slices of is not kept alive while a
 * batch fills (and what the bounds count is the memory held); `take` hands the batch over and starts
 * another, with room for twice what the last one held (not zeroed: every byte sent is written first).
 */
export class ExchangePacker {
  private numbers: Float64Array = new Float64Array(FIRST_EXCHANGES * NUMBERS);
  private bytes: Buffer = Buffer.allocUnsafeSlow(FIRST_BYTES);
  /** Buffers the sender thread is done with, filled again rather than new ones allocated (their pages are warm). */
  private spare: ArrayBuffer[] = [];
  private count = 0;
  private used = 0;
  private bodyBytes = 0;
  /** Logged halves packed: the events they will make. */
  events = 0;

  /** Exchanges packed since the last take. */
  get exchanges(): number {
    return this.count;
  }

  /** Body bytes packed since the last take (what the bounds count). */
  get bodies(): number {
    return this.bodyBytes;
  }

  add({ exchange: e, now, request, response }: Packable): void {
    const requestType = e.request.contentType;
    const responseType = e.response.contentType;
    const need =
      this.used +
      e.revision.length +
      e.requestId.length +
      (requestType?.length ?? 0) +
      (responseType?.length ?? 0) +
      (request ? e.request.body.byteLength : 0) +
      (response ? e.response.body.byteLength : 0);
    if (need > this.bytes.byteLength) this.bytes = grownBytes(this.bytes, need, this.used);
    if ((this.count + 1) * NUMBERS > this.numbers.length) this.numbers = grownNumbers(this.numbers, this.count);
    const n = this.count++ * NUMBERS;
    const numbers = this.numbers;
    numbers[n + AT] = e.at;
    numbers[n + NOW] = now;
    numbers[n + STATUS] = e.status;
    this.putString(e.revision, n + REVISION);
    this.putString(e.requestId, n + REQUEST_ID);
    this.putString(requestType, n + REQUEST_TYPE);
    this.putString(responseType, n + RESPONSE_TYPE);
    numbers[n + REQUEST] = e.request.inferenceHeaderLength ?? NaN;
    this.putBody(e.request.body, request, n + REQUEST + 1);
    numbers[n + RESPONSE] = e.response.inferenceHeaderLength ?? NaN;
    this.putBody(e.response.body, response, n + RESPONSE + 1);
  }

  /** The batch packed so far, its buffers to be transferred; the packer starts afresh. */
  take(route: PayloadLogRoute): ExchangeBatch {
    const batch = {
      route,
      numbers: this.numbers.subarray(0, this.count * NUMBERS),
      bytes: this.bytes.buffer as ArrayBuffer,
    };
    this.numbers = new Float64Array(Math.max(this.count * 2, FIRST_EXCHANGES) * NUMBERS);
    const room = Math.max(this.used * 2, FIRST_BYTES);
    const reused = this.spare.findIndex((b) => b.byteLength >= room);
    this.bytes = reused < 0 ? Buffer.allocUnsafeSlow(room) : Buffer.from(this.spare.splice(reused, 1)[0]);
    this.count = this.used = this.bodyBytes = this.events = 0;
    return batch;
  }

  /** A batch's buffer back from the sender thread, to be filled again (a few are kept). */
  recycle(bytes: ArrayBuffer): void {
    if (this.spare.length < MAX_SPARE) this.spare.push(bytes);
  }

  private putString(text: string | undefined, n: number): void {
    if (text === undefined) {
      this.numbers[n] = this.numbers[n + 1] = -1;
      return;
    }
    this.numbers[n] = this.used;
    this.numbers[n + 1] = this.used += this.bytes.write(text, this.used, 'latin1');
  }

  private putBody(body: Buffer, logged: boolean, n: number): void {
    if (!logged) {
      this.numbers[n] = this.numbers[n + 1] = -1;
      return;
    }
    this.bytes.set(body, this.used);
    this.numbers[n] = this.used;
    this.numbers[n + 1] = this.used += body.byteLength;
    this.bodyBytes += body.byteLength;
    this.events++;
  }
}

/** `bytes` moved into a buffer at least twice as large and at least `need` long (its first `used` bytes kept). */
function grownBytes(bytes: Buffer, need: number, used: number): Buffer {
  const bigger = Buffer.allocUnsafeSlow(Math.max(need, bytes.byteLength * 2));
  bytes.copy(bigger, 0, 0, used);
  return bigger;
}

/** `numbers` moved into an array with room for twice as many exchanges (the first `count` kept). */
function grownNumbers(numbers: Float64Array, count: number): Float64Array {
  const bigger = new Float64Array(numbers.length * 2);
  bigger.set(numbers.subarray(0, count * NUMBERS));
  return bigger;
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
  const { numbers } = batch;
  const bytes = Buffer.from(batch.bytes);
  const text = (n: number): string | undefined =>
    numbers[n] < 0 ? undefined : bytes.toString('latin1', numbers[n], numbers[n + 1]);
  const half = (contentType: string | undefined, n: number) => ({
    ...(contentType === undefined ? {} : { contentType }),
    ...(Number.isNaN(numbers[n]) ? {} : { inferenceHeaderLength: numbers[n] }),
    body: numbers[n + 1] < 0 ? Buffer.alloc(0) : bytes.subarray(numbers[n + 1], numbers[n + 2]),
  });
  const out: UnpackedExchange[] = [];
  for (let n = 0; n < numbers.length; n += NUMBERS) {
    out.push({
      exchange: {
        revision: text(n + REVISION) as string,
        requestId: text(n + REQUEST_ID) as string,
        at: numbers[n + AT],
        status: numbers[n + STATUS],
        request: half(text(n + REQUEST_TYPE), n + REQUEST),
        response: half(text(n + RESPONSE_TYPE), n + RESPONSE),
      },
      now: numbers[n + NOW],
      request: numbers[n + REQUEST + 1] >= 0,
      response: numbers[n + RESPONSE + 1] >= 0,
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
   * in all (the main thread's bound on what it hands over); `waiting`: events not yet being sent;
   * `spare`: the buffers (transferred) of batches whose every event is done, to be filled again.
   */
  | {
      type: 'report';
      outcomes: [revision: string, outcome: PayloadOutcome, count: number][];
      bytes: number;
      waiting: number;
      spare: ArrayBuffer[];
    }
  /** A change between sending and failing, to log (the origin only: a sink's path or query may carry a token). */
  | { type: 'log'; level: 'warn' | 'info'; msg: string; sink: string }
  /** close is done: every event is reported. */
  | { type: 'closed' };
