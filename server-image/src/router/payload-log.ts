/**
 * Payload logging (contract/payload-log.ts): an {@link ExchangeObserver} that samples the
 * inference calls the router serves and has them sent to the route's sink as KServe-style
 * CloudEvents, in the background. The caller is never delayed: an exchange is packed after the
 * caller has its response, and what was packed is handed over every {@link HAND_OVER_MS} (or once
 * {@link HAND_OVER_BYTES} are packed) to the sender thread (payload-sender.ts), which makes the
 * events and POSTs them. What is packed or handed over and not yet done with is bounded in events
 * and bytes; an event past either bound is dropped and counted, never waited for.
 */
import { Worker } from 'node:worker_threads';
import type { PayloadLogRoute } from '../../../contract/payload-log.js';
import type { Logger } from '../../../common/log.js';
import type { ExchangeObserver, ObservedExchange } from './observe.js';
import { RevisionSampler, isInferenceCall, loggedHalves } from './payload-log-events.js';
import { ExchangePacker, type FromSender, type PayloadOutcome, type ToSender } from './payload-protocol.js';
import { PAYLOAD_SENDERS, type SenderData } from './payload-sender.js';

export type { PayloadOutcome } from './payload-protocol.js';

/**
 * How long packed exchanges wait to be handed over. A hand-over costs the main thread a message
 * (cloned, and the sender thread woken) whatever it holds: bench-payload-log profiled one per turn
 * of the event loop (one exchange each at a steady load) as most of logging's cost to it.
 */
export const HAND_OVER_MS = 50;
/** Body bytes packed that are handed over at once, however soon: a burst does not grow one batch without end. */
export const HAND_OVER_BYTES = 1024 * 1024;

/** What the payload logger needs from the router. */
export interface PayloadLoggerOptions {
  /** `ce-source`: the router pod's name. */
  source: string;
  /** Events waiting for a sender at most (the senders' own events come on top). */
  queueEvents: number;
  /** Body bytes held for sending at most, in flight included. */
  queueBytes: number;
  /** Counts `n` events' fate (the metric). */
  count(revision: string, outcome: PayloadOutcome, n: number): void;
  log: Logger;
}

/** The payload-logging part of the router's monitoring. */
export class PayloadLogger implements ExchangeObserver {
  private route?: PayloadLogRoute;
  private sampler = new RevisionSampler(0);
  /** Started when logging first has something to send: a router that never logs has no sender thread. */
  private sender?: Worker;
  /** Exchanges not handed over yet, all of `route`. */
  private readonly packer = new ExchangePacker();
  private handOverTimer?: NodeJS.Timeout;
  /** Handed to the sender (or about to be) and not yet reported done with. */
  private held = { events: 0, bytes: 0 };
  /** Events the sender's last report had waiting for a sender. */
  private waiting = 0;
  private closed?: () => void;

  constructor(private readonly opts: PayloadLoggerOptions) {}

  /**
   * Puts a route's settings in force in place (undefined: off). Samplers restart only when the
   * percent changes; events queued for a sink URL that changed still go there.
   */
  configure(route: PayloadLogRoute | undefined): void {
    if (route?.percent !== this.sampler.percent) this.sampler = new RevisionSampler(route?.percent ?? 0);
    // What was observed goes with the settings it was observed under.
    this.handOver();
    if (this.route && route?.url !== this.route.url) this.sender?.postMessage({ type: 'retire', url: this.route.url });
    this.route = route;
  }

  /** Events waiting for a sender (as of the sender's last report, plus those not handed over yet). */
  get depth(): number {
    return this.waiting + this.packer.events;
  }

  wants(revision: string, method: string, path: string): boolean {
    return (
      this.route !== undefined && this.route.percent > 0 && isInferenceCall(method, path) && this.sampler.take(revision)
    );
  }

  observe(exchange: ObservedExchange): void {
    const { route } = this;
    if (!route) return;
    const halves = loggedHalves(route.mode, exchange.status);
    const request = halves.request && this.admit(exchange.revision, exchange.request.body);
    const response = halves.response && this.admit(exchange.revision, exchange.response.body);
    if (!request && !response) return;
    this.packer.add({ exchange, now: Date.now(), request, response });
    if (this.packer.bodies >= HAND_OVER_BYTES) this.handOver();
    else this.handOverTimer ??= setTimeout(() => this.handOver(), HAND_OVER_MS).unref();
  }

  /** Whether one more event of `body` fits the bounds; counted dropped when it does not. */
  private admit(revision: string, body: Buffer): boolean {
    const maxEvents = this.opts.queueEvents + PAYLOAD_SENDERS;
    if (this.held.events >= maxEvents || this.held.bytes + body.byteLength > this.opts.queueBytes) {
      this.opts.count(revision, 'dropped', 1);
      return false;
    }
    this.held.events++;
    this.held.bytes += body.byteLength;
    return true;
  }

  /** Posts the exchanges packed since the last hand-over, if any. */
  private handOver(): void {
    clearTimeout(this.handOverTimer);
    this.handOverTimer = undefined;
    if (this.packer.exchanges === 0) return;
    const batch = this.packer.take(this.route as PayloadLogRoute);
    this.tell({ type: 'exchanges', ...batch }, [batch.numbers.buffer as ArrayBuffer, batch.bytes]);
  }

  private tell(message: ToSender, transfer: ArrayBuffer[] = []): void {
    this.senderThread().postMessage(message, transfer);
  }

  private senderThread(): Worker {
    if (this.sender) return this.sender;
    const workerData: SenderData = { source: this.opts.source };
    const sender = new Worker(new URL('./payload-sender.js', import.meta.url), { workerData });
    sender.on('message', (message: FromSender) => this.hear(message));
    sender.on('error', (err) => this.opts.log.error('payload log: the sender thread failed', { error: err }));
    sender.on('exit', () => this.lost(sender));
    // The router's exit never waits for it: close() says when its work is done.
    sender.unref();
    this.sender = sender;
    return sender;
  }

  /**
   * A sender thread that ended outside close() took its events with it: they are logged as lost
   * (by number: which revisions they were of went with it), the bounds are freed, and the next
   * hand-over starts a new thread.
   */
  private lost(sender: Worker): void {
    if (this.sender !== sender) return;
    this.sender = undefined;
    // What is packed and not handed over yet goes to the next thread, and stays held.
    const lost = this.held.events - this.packer.events;
    if (lost > 0) this.opts.log.error('payload log: the sender thread ended; its events are lost', { events: lost });
    this.held = { events: this.packer.events, bytes: this.packer.bodies };
    this.waiting = 0;
  }

  private hear(message: FromSender): void {
    switch (message.type) {
      case 'report':
        for (const [revision, outcome, count] of message.outcomes) {
          this.opts.count(revision, outcome, count);
          this.held.events -= count;
        }
        this.held.bytes -= message.bytes;
        this.waiting = message.waiting;
        for (const bytes of message.spare) this.packer.recycle(bytes);
        return;
      case 'log':
        this.opts.log[message.level](message.msg, { sink: message.sink });
        return;
      case 'closed':
        this.closed?.();
        return;
    }
  }

  /**
   * Stops logging and sends what is queued for at most `timeoutMs`; what is still queued then is
   * counted dropped, and sends still in flight are cut (counted failed).
   */
  async close(timeoutMs: number): Promise<void> {
    this.configure(undefined);
    const sender = this.sender;
    if (!sender) return;
    // A sender that does not answer in time still goes: the router's exit must not hang on it.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs + 2_000);
      this.closed = () => {
        clearTimeout(timer);
        resolve();
      };
      this.tell({ type: 'close', timeoutMs });
    });
    this.sender = undefined;
    await sender.terminate();
  }
}
