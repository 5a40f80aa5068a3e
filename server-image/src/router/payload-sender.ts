/**
 * The payload sender thread (payload-protocol.ts): POSTs the CloudEvents the main thread hands over
 * to their sinks, a few at a time over one keep-alive pool per sink, and reports each event's fate.
 *
 * Failed sends are counted, not retried: the log is a sample already, a retry would double the
 * load on a sink exactly when it struggles, and a send that timed out may have been stored (a
 * retry would duplicate it). KServe's logger does not retry either.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'undici';
import { payloadEvents, type PayloadEvent } from './payload-log-events.js';
import { unpackExchanges, type FromSender, type PayloadOutcome, type ToSender } from './payload-protocol.js';

/** The events of one batch not yet done with, and the buffer their bodies are views of. */
interface BatchBuffer {
  bytes: ArrayBuffer;
  pending: number;
}

/** An event, its sink's URL (events queued before a URL change still go to the old one) and its batch. */
type QueuedEvent = PayloadEvent & { url: string; batch: BatchBuffer };

/** What the sender thread is started with. */
export interface SenderData {
  /** `ce-source`: the router pod's name. */
  source: string;
}

/** Events sent at once (and connections per sink): enough for a sink ~1 ms away to keep up. */
export const PAYLOAD_SENDERS = 4;
/** How long the sink may take to connect and to answer one event before it counts as failed. */
export const PAYLOAD_SEND_TIMEOUT_MS = 5_000;

/**
 * How often the sender tells the main thread what it did. What is handed over but not reported done
 * counts against the main thread's bounds for up to this long.
 */
const REPORT_EVERY_MS = 50;

/** A sink URL and its connection pool; closed once retired and idle. */
class Sink {
  readonly pool: Pool;
  readonly path: string;
  readonly origin: string;
  /** Events queued or in flight for this sink. */
  pending = 0;
  retired = false;

  constructor(
    readonly url: string,
    connections: number,
    timeoutMs: number,
  ) {
    const u = new URL(url);
    this.path = `${u.pathname}${u.search}`;
    this.origin = u.origin;
    this.pool = new Pool(u.origin, {
      connections,
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }
}

/**
 * POSTs one event and resolves with the sink's status, its answer's body discarded. A bare
 * dispatch handler rather than `pool.request`, which wraps every answer in a stream only to be
 * drained: the send is the part of payload logging that costs per event.
 */
function post(pool: Pool, path: string, headers: Record<string, string>, body: Uint8Array): Promise<number> {
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

/** Sends events in arrival order with at most `senders` in flight, and reports in batches. */
export class PayloadSender {
  private readonly queue: QueuedEvent[] = [];
  private head = 0;
  private sending = 0;
  private readonly sinks = new Map<string, Sink>();
  /** Whether the last send failed: failures are logged on the change, not per event. */
  private failing = false;
  private readonly outcomes = new Map<string, number>();
  private doneBytes = 0;
  /** Buffers of batches done with, to move back to the main thread with the next report. */
  private spare: ArrayBuffer[] = [];
  private reportDue = false;
  private idle?: () => void;

  constructor(
    private readonly tell: (message: FromSender, transfer?: ArrayBuffer[]) => void,
    private readonly source: string,
    private readonly senders = PAYLOAD_SENDERS,
    private readonly timeoutMs = PAYLOAD_SEND_TIMEOUT_MS,
  ) {}

  /** Handles one message of the main thread. */
  receive(message: ToSender): void {
    switch (message.type) {
      case 'exchanges': {
        const { route } = message;
        const sink = this.sinkFor(route.url);
        const batch: BatchBuffer = { bytes: message.bytes, pending: 0 };
        for (const { exchange, now, request, response } of unpackExchanges(message)) {
          for (const event of payloadEvents(exchange, route, this.source, now, { request, response })) {
            sink.pending++;
            batch.pending++;
            this.queue.push({ ...event, url: route.url, batch });
          }
        }
        this.pump();
        this.scheduleReport();
        return;
      }
      case 'retire': {
        const sink = this.sinks.get(message.url);
        if (sink) {
          sink.retired = true;
          this.closeIfIdle(sink);
        }
        return;
      }
      case 'close':
        void this.close(message.timeoutMs);
        return;
    }
  }

  private get waiting(): number {
    return this.queue.length - this.head;
  }

  private sinkFor(url: string): Sink {
    let sink = this.sinks.get(url);
    if (!sink) this.sinks.set(url, (sink = new Sink(url, this.senders, this.timeoutMs)));
    return sink;
  }

  private closeIfIdle(sink: Sink): void {
    if (!sink.retired || sink.pending > 0) return;
    this.sinks.delete(sink.url);
    void sink.pool.close().catch(() => undefined);
  }

  private next(): QueuedEvent | undefined {
    if (this.head >= this.queue.length) return undefined;
    const event = this.queue[this.head++];
    // Compact once the consumed prefix dominates, so taking stays O(1) amortized.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return event;
  }

  /** Starts sends while there are events and free senders. */
  private pump(): void {
    while (this.sending < this.senders) {
      const event = this.next();
      if (!event) break;
      this.sending++;
      void this.send(event).then((outcome) => {
        this.sending--;
        this.settle(event, outcome);
        this.pump();
        if (this.sending === 0 && this.waiting === 0) this.idle?.();
      });
    }
  }

  private async send(event: QueuedEvent): Promise<PayloadOutcome> {
    const sink = this.sinkFor(event.url);
    let outcome: PayloadOutcome = 'failed';
    let why = '';
    try {
      event.headers['ce-recordedtime'] = new Date().toISOString();
      const status = await post(sink.pool, sink.path, event.headers, event.body);
      if (status >= 200 && status < 300) outcome = 'sent';
      else why = `answered ${status}`;
    } catch (err) {
      why = (err as Error).message;
    }
    const failing = outcome === 'failed';
    if (failing !== this.failing) {
      this.failing = failing;
      this.tell(
        failing
          ? {
              type: 'log',
              level: 'warn',
              msg: `payload log: sending to ${sink.origin} failed: ${why}; counting failures`,
              sink: sink.origin,
            }
          : {
              type: 'log',
              level: 'info',
              msg: `payload log: sending to ${sink.origin} works again`,
              sink: sink.origin,
            },
      );
    }
    return outcome;
  }

  /** One event is done with: counted for the next report, its sink released. */
  private settle(event: QueuedEvent, outcome: PayloadOutcome): void {
    const key = `${outcome} ${event.revision}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
    this.doneBytes += event.body.byteLength;
    // No view of the batch's buffer is in use any more once its last event is done: it goes back with the report.
    if (--event.batch.pending === 0) this.spare.push(event.batch.bytes);
    const sink = this.sinks.get(event.url);
    if (sink) {
      sink.pending--;
      this.closeIfIdle(sink);
    }
    this.scheduleReport();
  }

  /**
   * One report per {@link REPORT_EVERY_MS} at most, however many events settled meanwhile: a
   * message per event would cost the main thread about what sending it costs this one.
   */
  private scheduleReport(): void {
    if (this.reportDue) return;
    this.reportDue = true;
    setTimeout(() => this.report(), REPORT_EVERY_MS);
  }

  private report(): void {
    this.reportDue = false;
    const outcomes: [string, PayloadOutcome, number][] = [];
    for (const [key, count] of this.outcomes) {
      const space = key.indexOf(' ');
      outcomes.push([key.slice(space + 1), key.slice(0, space) as PayloadOutcome, count]);
    }
    this.outcomes.clear();
    const spare = this.spare;
    this.spare = [];
    this.tell({ type: 'report', outcomes, bytes: this.doneBytes, waiting: this.waiting, spare }, spare);
    this.doneBytes = 0;
  }

  private async close(timeoutMs: number): Promise<void> {
    if (this.sending > 0 || this.waiting > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    for (let e = this.next(); e; e = this.next()) this.settle(e, 'dropped');
    // Sends still in flight are cut, and settle as failed.
    await Promise.all([...this.sinks.values()].map((s) => s.pool.destroy().catch(() => undefined)));
    await new Promise((resolve) => setImmediate(resolve));
    this.report();
    this.tell({ type: 'closed' });
  }
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const { source } = workerData as SenderData;
  const sender = new PayloadSender((message, transfer = []) => port.postMessage(message, transfer), source);
  port.on('message', (message: ToSender) => sender.receive(message));
}
