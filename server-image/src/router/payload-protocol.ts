/**
 * The messages between the router's main thread (payload-log.ts, which samples exchanges and builds
 * their CloudEvents) and the payload sender thread (payload-sender.ts, which POSTs them). Sending
 * costs as much CPU as proxying a request does (a write to the sink per event, its answer read); on
 * its own thread it leaves the main thread, which every request of the router waits for, free.
 */
import type { PayloadEvent } from './payload-log-events.js';

/** What became of one event. */
export type PayloadOutcome = 'sent' | 'dropped' | 'failed';

/** An event for the sender: its sink's URL with it, so events queued before a URL change still go there. */
export type QueuedEvent = PayloadEvent & { url: string };

/** Main thread → sender. */
export type ToSender =
  /** Events to send, in order. */
  | { type: 'events'; events: QueuedEvent[] }
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
