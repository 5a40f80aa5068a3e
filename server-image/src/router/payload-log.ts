/**
 * Payload logging (contract/payload-log.ts): an {@link ExchangeObserver} that samples the
 * inference calls the router serves and sends them to the route's sink as KServe-style
 * CloudEvents, in the background. The caller is never delayed: events are built after it has its
 * response, wait in a bounded queue (dropped and counted when it is full) and are drained by a few
 * concurrent senders over one keep-alive pool per sink.
 *
 * Failed sends are counted, not retried: the log is a sample already, a retry would double the
 * load on a sink exactly when it struggles, and a send that timed out may have been stored (a
 * retry would duplicate it). KServe's logger does not retry either.
 */
import { Pool } from 'undici';
import type { PayloadLogRoute } from '../../../contract/payload-log.js';
import type { Logger } from '../../../common/log.js';
import type { ExchangeObserver, ObservedExchange } from './observe.js';
import {
  BoundedQueue,
  RevisionSampler,
  isInferenceCall,
  payloadEvents,
  type PayloadEvent,
} from './payload-log-events.js';

/** Events sent at once (and connections per sink): enough for a sink ~1 ms away to keep up. */
export const PAYLOAD_SENDERS = 4;
/** How long the sink may take to connect and to answer one event before it counts as failed. */
export const PAYLOAD_SEND_TIMEOUT_MS = 5_000;

/** What became of one event. */
export type PayloadOutcome = 'sent' | 'dropped' | 'failed';

/** What the payload logger needs from the router. */
export interface PayloadLoggerOptions {
  /** `ce-source`: the router pod's name. */
  source: string;
  queueEvents: number;
  queueBytes: number;
  senders?: number;
  timeoutMs?: number;
  /** Counts one event's fate (the metric). */
  count(revision: string, outcome: PayloadOutcome): void;
  log: Logger;
}

/** A sink URL and its connection pool; closed once retired (the URL changed) and drained. */
class Sink {
  readonly pool: Pool;
  readonly path: string;
  /** Events queued or in flight for this sink. */
  pending = 0;
  retired = false;

  constructor(
    readonly url: string,
    connections: number,
    timeoutMs: number,
    private readonly onClose: (sink: Sink) => void,
  ) {
    const u = new URL(url);
    this.path = `${u.pathname}${u.search}`;
    this.pool = new Pool(u.origin, {
      connections,
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  /** One event left (sent, failed or dropped): closes the pool when retired and idle. */
  release(): void {
    this.pending--;
    this.closeIfIdle();
  }

  closeIfIdle(): void {
    if (this.retired && this.pending === 0) {
      this.onClose(this);
      void this.pool.close().catch(() => undefined);
    }
  }
}

type Queued = PayloadEvent & { sink: Sink };

/**
 * POSTs one event and resolves with the sink's status, its answer's body discarded. A bare
 * dispatch handler rather than `pool.request`, which wraps every answer in a stream the router
 * would only drain: the send is the part of payload logging that costs per event.
 */
function post(pool: Pool, path: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    let status = 0;
    pool.dispatch(
      { method: 'POST', path, headers, body },
      {
        onRequestStart: () => undefined,
        onResponseStart: (_controller, statusCode) => {
          status = statusCode;
        },
        onResponseData: () => undefined,
        onResponseEnd: () => resolve(status),
        onResponseError: (_controller, err) => reject(err),
      },
    );
  });
}

/** The payload-logging part of the router's monitoring. */
export class PayloadLogger implements ExchangeObserver {
  private route?: PayloadLogRoute;
  private sampler = new RevisionSampler(0);
  private sink?: Sink;
  private readonly queue: BoundedQueue<Queued>;
  private readonly senders: number;
  private readonly timeoutMs: number;
  private sending = 0;
  /** Whether the last send failed: failures are logged on the change, not per event. */
  private failing = false;
  private idle?: () => void;
  /** Every pool not yet closed, to cut what is still in flight at the end of close(). */
  private readonly sinks = new Set<Sink>();

  constructor(private readonly opts: PayloadLoggerOptions) {
    this.queue = new BoundedQueue(opts.queueEvents, opts.queueBytes);
    this.senders = opts.senders ?? PAYLOAD_SENDERS;
    this.timeoutMs = opts.timeoutMs ?? PAYLOAD_SEND_TIMEOUT_MS;
  }

  /**
   * Puts a route's settings in force in place (undefined: off). Samplers restart only when the
   * percent changes; a new URL gets a new pool, and events queued for the old one still go there.
   */
  configure(route: PayloadLogRoute | undefined): void {
    if (route?.percent !== this.sampler.percent) this.sampler = new RevisionSampler(route?.percent ?? 0);
    if (route?.url !== this.sink?.url) {
      if (this.sink) {
        this.sink.retired = true;
        this.sink.closeIfIdle();
      }
      this.sink = route ? new Sink(route.url, this.senders, this.timeoutMs, (s) => this.sinks.delete(s)) : undefined;
      if (this.sink) this.sinks.add(this.sink);
    }
    this.route = route;
  }

  /** Events waiting for a sender. */
  get depth(): number {
    return this.queue.length;
  }

  wants(revision: string, method: string, path: string): boolean {
    return (
      this.route !== undefined && this.route.percent > 0 && isInferenceCall(method, path) && this.sampler.take(revision)
    );
  }

  observe(exchange: ObservedExchange): void {
    const { route, sink } = this;
    if (!route || !sink) return;
    try {
      for (const event of payloadEvents(exchange, route, this.opts.source, Date.now())) {
        if (this.queue.push({ ...event, sink })) sink.pending++;
        else this.opts.count(event.revision, 'dropped');
      }
      this.pump();
    } catch (err) {
      this.opts.log.error('payload log: could not queue an exchange', { error: err as Error });
    }
  }

  /** Starts senders while there are events and free senders. */
  private pump(): void {
    while (this.sending < this.senders && this.queue.length > 0) {
      const event = this.queue.shift() as Queued;
      this.sending++;
      void this.send(event).finally(() => {
        this.sending--;
        event.sink.release();
        this.pump();
        if (this.sending === 0 && this.queue.length === 0) this.idle?.();
      });
    }
  }

  private async send(event: Queued): Promise<void> {
    let outcome: PayloadOutcome = 'failed';
    let why = '';
    try {
      event.headers['ce-recordedtime'] = new Date().toISOString();
      const status = await post(event.sink.pool, event.sink.path, event.headers, event.body);
      if (status >= 200 && status < 300) outcome = 'sent';
      else why = `answered ${status}`;
    } catch (err) {
      why = (err as Error).message;
    }
    this.opts.count(event.revision, outcome);
    const failing = outcome === 'failed';
    if (failing !== this.failing) {
      this.failing = failing;
      // The origin only: a sink's path or query may carry a token.
      const sink = new URL(event.sink.url).origin;
      if (failing) this.opts.log.warn(`payload log: sending to ${sink} failed: ${why}; counting failures`, { sink });
      else this.opts.log.info(`payload log: sending to ${sink} works again`, { sink });
    }
  }

  /**
   * Stops logging and sends what is queued for at most `timeoutMs`; what is still queued then is
   * counted dropped, and sends still in flight are cut (counted failed).
   */
  async close(timeoutMs: number): Promise<void> {
    this.configure(undefined);
    if (this.sending > 0 || this.queue.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    for (let e = this.queue.shift(); e; e = this.queue.shift()) {
      this.opts.count(e.revision, 'dropped');
      e.sink.release();
    }
    await Promise.all([...this.sinks].map((s) => s.pool.destroy().catch(() => undefined)));
  }
}
