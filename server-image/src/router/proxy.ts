/**
 * The data path: one request in, one backend request out over the backend's undici Pool, bodies
 * passed through byte for byte. Request bodies up to BUFFER_LIMIT are read whole and sent with
 * their headers in one write; larger or unsized ones are streamed. Only when a request is mirrored
 * are the served response and (if streamed) the request body also kept in memory (bounded by
 * mirrorMaxBytes) to send the copy and compare the answers; the caller's response is never held
 * back for the mirror. A live request whose backend connection could not be opened is sent again
 * while its connect-retry budget lasts (retry.ts decides); mirrored copies are not.
 *
 * A request routed to a revision whose route says `hold` waits in the hold queue (hold.ts), its
 * body unread (the socket's backpressure holds the caller), until routes without that hold arrive
 * (then it is sent on, in arrival order), its deadline passes or the queue is full (503 with
 * Retry-After), or its caller goes away. When the held route lists starting pods, the first of them
 * to answer ready (starting.ts probes them) gets the held requests, in arrival order, and the
 * revision's new ones, straight rather than through the Service, until the routes drop the hold.
 * Each revision's load meter (load.ts) counts its requests from arrival to the caller's response
 * closing.
 */
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../../../common/log.js';
import { compareResponses } from './agreement.js';
import {
  MIRROR_HEADER,
  downstreamResponseHeaders,
  rawHeaderValue,
  upstreamRequestHeaders,
  withBackendHost,
} from './headers.js';
import type { RouterMetrics } from './metrics.js';
import { DEFAULT_CONNECT_RETRY_BUDGET_MS } from './config.js';
import { connectRetryPolicy, decideConnectRetry, type ConnectRetryPolicy } from './retry.js';
import { DEFAULT_HOLD_TIMEOUT_MS } from '../../../contract/routes.js';
import type { Outcome } from '../../../contract/stats.js';
import { HoldQueue } from './hold.js';
import type { LoadMeter } from './load.js';
import { StartingPods, httpReadyProbe } from './starting.js';
import {
  OBSERVE_MAX_RESPONSE_BYTES,
  REQUEST_ID_HEADER,
  requestIdOf,
  type ExchangeObserver,
  type ObservedExchange,
  type ObservedMessage,
  type Observers,
} from './observe.js';
import type { RouterStats } from './stats.js';
import type { ResolvedRoute, RouteTable, Target } from './table.js';

/**
 * Request bodies up to this size are buffered and sent in one write with their headers (cheaper
 * than streaming, and inference requests are mostly this small); larger ones are streamed so the
 * router's memory stays bounded whatever callers send.
 */
export const BUFFER_LIMIT = 1024 * 1024;

/** The `Retry-After` (seconds) of a held request's 503: its revision may be up by then. */
export const HOLD_RETRY_AFTER_SECONDS = 1;

/** What the proxy needs. */
export interface ProxyOptions {
  table: RouteTable;
  stats: RouterStats;
  metrics: RouterMetrics;
  log: Logger;
  timeoutMs: number;
  mirrorTimeoutMs: number;
  mirrorMaxBytes: number;
  maxMirrorsInFlight: number;
  /**
   * How long a live request whose connection could not be opened is retried, from its first
   * dispatch (default {@link DEFAULT_CONNECT_RETRY_BUDGET_MS}; never past `timeoutMs`).
   */
  connectRetryBudgetMs?: number;
  /** Most requests held at once for revisions whose route says `hold` (MODELSHIP_ROUTER_MAX_HELD). */
  maxHeld: number;
  /** Called when a revision's held count goes from 0 to 1 (the router publishes its stats at once). */
  onFirstHeld?: (revision: string) => void;
  /** The monitoring parts in force (payload logging, drift, accuracy); none when absent. */
  observers?: Observers;
}

/** A captured response, for agreement. */
interface Captured {
  status: number;
  body: Buffer;
  inferenceHeaderLength?: number;
}

/** The proxy's request handler and its in-flight count (for draining on shutdown). */
export interface Proxy {
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** Requests in flight, held ones included. */
  inFlight(): number;
  /** From now on, ask callers to close their connections after each response. */
  startDraining(): void;
  /** New routes are in force: sends on, in arrival order, the held requests they no longer hold. */
  routesApplied(): void;
  /** Answers every held request 503 now (shutdown: the drain's time is up). */
  expireHeld(): void;
  /** Stops probing starting pods (shutdown). */
  close(): void;
}

/**
 * Sends a JSON error unless the response has started, in which case the connection is cut.
 * `retryAfterSeconds` adds a `Retry-After` header.
 */
export function sendError(
  res: http.ServerResponse,
  status: number,
  error: string,
  revision?: string,
  retryAfterSeconds?: number,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error });
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  };
  if (revision) headers['x-modelship-revision'] = revision;
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
  res.writeHead(status, headers).end(body);
}

function headerLength(headers: Record<string, string | string[] | undefined>): number | undefined {
  const v = headers['inference-header-content-length'];
  if (v === undefined) return undefined;
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isInteger(n) ? n : undefined;
}

/** Collects chunks up to a limit; `body()` is undefined if the limit was passed. */
class Capture {
  private chunks: Buffer[] = [];
  private size = 0;
  overflow = false;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    if (this.overflow) return;
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.overflow = true;
      this.chunks = [];
      return;
    }
    this.chunks.push(chunk);
  }

  body(): Buffer | undefined {
    if (this.overflow) return undefined;
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
  }
}

/** Shared by every exchange of one proxy. */
interface ProxyContext extends ProxyOptions {
  retryPolicy: ConnectRetryPolicy;
  record(revision: string, kind: 'live' | 'mirror', outcome: Outcome, startedAt: number): void;
  released(): void;
}

/** A request waiting in the hold queue, with what sending it on needs. */
interface Held {
  revision: string;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  arrivedAt: number;
  timeoutMs: number;
  onClose: () => void;
}

/** The attempts of a live request sent straight to a starting pod of its held revision. */
interface Direct {
  /** The connection to the pod last tried could not be opened (it died, or restarts): stop sending there. */
  refused(): void;
  /** Where a resend goes: a ready starting pod of the revision, else its Service, else `current`. */
  next(current: Target): Target;
}

/**
 * One caller's request and its backend request: an undici dispatch handler that relays the
 * backend's response to the caller as it arrives. A connect failure is dispatched again (same
 * handler, same revision) while retry.ts allows; a request sent straight to a starting pod is
 * resent to another ready one, or else to the revision's Service (the pod is reported refused, so
 * it is probed again). The timeout and the latency run from the first dispatch. Its outcome is
 * recorded exactly once, however many attempts it took; the in-flight count (and the revision's
 * load meter) is released when the caller's response closes (sent or cut), so draining waits until
 * the caller really has the bytes. A request that was held records its latency from its arrival,
 * so the wait for the revision to come up is part of it.
 */
class LiveExchange implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private timer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private done = false;
  private status = 0;
  private startedAt = 0;
  private request?: Dispatcher.DispatchOptions;
  /** Whether the body can be sent again: none or buffered (a streamed one is consumed by the first attempt). */
  private replayable = false;
  private attempts = 0;
  /** Whether undici began writing the current attempt (after which it may have reached the backend). */
  private started = false;
  /** The caller's path and the upstream headers, to aim a resend at another backend of the revision. */
  private path = '';
  private headers: string[] = [];
  /** Set when the route mirrors this request: receives the served response once complete. */
  servedCapture?: { capture: Capture; resolve: (c: Captured | undefined) => void; headerLength?: number };
  /** Set while monitoring is on: the id every response carries. */
  requestId?: string;
  /** Set when observers want this exchange: they get it once the caller has the response. */
  observation?: Observation;

  /**
   * @param meter the load meter of `target`'s revision, where this request was started
   * @param heldSince when a held request arrived (its latency runs from then)
   * @param direct set when `target` is a starting pod of a held revision: where resends go
   */
  constructor(
    private readonly ctx: ProxyContext,
    private target: Target,
    private readonly res: http.ServerResponse,
    meter: LoadMeter,
    private readonly heldSince: number | undefined,
    private readonly direct?: Direct,
  ) {
    res.on('close', () => {
      if (!this.done) {
        // The caller went away before the response was complete: stop the backend request too.
        this.controller?.abort(new Error('caller closed the connection'));
        this.settle(undefined);
      }
      meter.finish();
      ctx.released();
    });
  }

  /**
   * Sends the backend request: the caller's `path` (the target's base path goes before it) with
   * `headers` made for the target ({@link upstreamRequestHeaders}).
   */
  dispatch(method: string, path: string, headers: string[], body: Buffer | Readable | null): void {
    if (this.done) return;
    this.startedAt = performance.now();
    this.timer = setTimeout(this.onTimeout, this.ctx.timeoutMs);
    this.path = path;
    this.headers = headers;
    this.request = { method: method as Dispatcher.HttpMethod, path: this.target.basePath + path, headers, body };
    this.replayable = body === null || Buffer.isBuffer(body);
    this.attempt();
  }

  /** One attempt; the retry budget is below the pool's retirement delay, so its pool is still open. */
  private readonly attempt = (): void => {
    if (this.done || !this.request) return;
    if (this.direct && this.attempts > 0) this.aim(this.request, this.direct.next(this.target));
    this.attempts++;
    this.started = false;
    this.controller = undefined;
    this.target.pool.dispatch(this.request, this);
  };

  /** Points the resend `request` at `target`, another backend of the same revision. */
  private aim(request: Dispatcher.DispatchOptions, target: Target): void {
    if (target === this.target) return;
    this.target = target;
    request.path = target.basePath + this.path;
    request.headers = withBackendHost(this.headers, target.url.host);
  }

  private readonly onTimeout = (): void => {
    if (this.done) return;
    sendError(
      this.res,
      504,
      `revision ${this.target.revision} did not answer within ${this.ctx.timeoutMs} ms`,
      this.target.revision,
    );
    this.settle('timeout');
    this.controller?.abort(new Error('timed out'));
  };

  private settle(outcome: Outcome | undefined): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    if (outcome !== undefined) this.ctx.record(this.target.revision, 'live', outcome, this.heldSince ?? this.startedAt);
    this.servedCapture?.resolve(undefined);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.started = true;
    // Timed out or abandoned while waiting for a pooled connection: never send it.
    if (this.done) controller.abort(new Error('request abandoned'));
  }

  onResponseStart(
    _c: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    clearTimeout(this.timer);
    if (this.done) return;
    this.status = status;
    if (this.servedCapture) this.servedCapture.headerLength = headerLength(headers);
    if (this.observation) this.observation.responseStart(headers);
    const out = downstreamResponseHeaders(headers, this.target.revision);
    if (this.requestId !== undefined) out[REQUEST_ID_HEADER] = this.requestId;
    this.res.writeHead(status, statusMessage || undefined, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    this.servedCapture?.capture.add(chunk);
    this.observation?.capture.add(chunk);
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    if (this.done) return;
    this.res.end();
    const captured = this.servedCapture;
    if (captured) {
      const body = captured.capture.body();
      captured.resolve(body ? { status: this.status, body, inferenceHeaderLength: captured.headerLength } : undefined);
    }
    this.settle(this.status);
    this.observation?.end(this.target.revision, this.status);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.done) return;
    if (this.res.headersSent) {
      // The backend broke off mid-response: the status line is already out, so cut the caller.
      this.res.destroy();
      this.settle('unreachable');
      return;
    }
    const elapsedMs = performance.now() - this.startedAt;
    const decision = decideConnectRetry(
      {
        code: (err as { code?: unknown }).code,
        started: this.started,
        replayable: this.replayable,
        attempts: this.attempts,
        elapsedMs,
      },
      this.ctx.retryPolicy,
    );
    if (this.direct && (decision.retry || decision.connectFailure)) this.direct.refused();
    if (decision.retry) {
      this.ctx.metrics.connectRetries.inc({ revision: this.target.revision });
      this.retryTimer = setTimeout(this.attempt, decision.delayMs);
      return;
    }
    const tried = decision.connectFailure
      ? ` (${this.attempts} connect attempt${this.attempts === 1 ? '' : 's'} over ${Math.round(elapsedMs)} ms)`
      : '';
    sendError(
      this.res,
      502,
      `revision ${this.target.revision} (${this.target.url.host}) unreachable: ${err.message}${tried}`,
      this.target.revision,
    );
    this.settle('unreachable');
  }
}

/**
 * An exchange the observers want: the request as buffered, the response as captured, handed to
 * them once the caller's response is written (a response over the limit is not handed over).
 */
class Observation {
  readonly capture = new Capture(OBSERVE_MAX_RESPONSE_BYTES);
  private response: Omit<ObservedMessage, 'body'> = {};

  constructor(
    private readonly parts: ExchangeObserver[],
    private readonly exchange: Omit<ObservedExchange, 'revision' | 'status' | 'response'>,
  ) {}

  responseStart(headers: Record<string, string | string[] | undefined>): void {
    const contentType = headers['content-type'];
    this.response = {
      contentType: Array.isArray(contentType) ? contentType[0] : contentType,
      inferenceHeaderLength: headerLength(headers),
    };
  }

  end(revision: string, status: number): void {
    const body = this.capture.body();
    if (!body) return;
    const observed: ObservedExchange = { ...this.exchange, revision, status, response: { ...this.response, body } };
    for (const part of this.parts) part.observe(observed);
  }
}

/** A mirrored copy: collects the mirror target's response for comparison and records its outcome. */
class MirrorExchange implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  private settled = false;
  private status = 0;
  private headerLength?: number;
  private capture?: Capture;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly target: Target,
    private readonly resolve: (c: Captured | undefined) => void,
    private readonly onSettled: () => void,
  ) {
    this.timer = setTimeout(() => {
      this.finish('timeout');
      this.controller?.abort(new Error('mirror timed out'));
    }, ctx.mirrorTimeoutMs);
  }

  private finish(outcome: Outcome, captured?: Captured): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.onSettled();
    this.ctx.record(this.target.revision, 'mirror', outcome, this.startedAt);
    this.resolve(captured);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(new Error('mirror abandoned'));
  }

  onResponseStart(
    _c: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.status = status;
    this.headerLength = headerLength(headers);
    this.capture = new Capture(this.ctx.mirrorMaxBytes);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.capture?.add(chunk);
  }

  onResponseEnd(): void {
    const body = this.capture?.body();
    this.finish(
      this.status,
      body ? { status: this.status, body, inferenceHeaderLength: this.headerLength } : undefined,
    );
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (!this.settled)
      this.ctx.log.debug('mirror request failed', { revision: this.target.revision, error: err.message });
    this.finish('unreachable');
  }
}

function parseLength(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Builds the proxy. */
export function createProxy(opts: ProxyOptions): Proxy {
  const { table, stats, metrics, log } = opts;
  let inFlight = 0;
  let mirrorsInFlight = 0;
  let draining = false;

  const ctx: ProxyContext = {
    ...opts,
    retryPolicy: connectRetryPolicy(opts.connectRetryBudgetMs ?? DEFAULT_CONNECT_RETRY_BUDGET_MS, opts.timeoutMs),
    record: (revision, kind, outcome, startedAt) => {
      stats.record(revision, kind, outcome, performance.now() - startedAt);
    },
    released: () => {
      inFlight--;
    },
  };
  metrics.countInFlight(() => inFlight);

  /** Sends the copy; resolves with its response when it is comparable, else undefined. */
  const mirror = (
    target: Target,
    req: http.IncomingMessage,
    path: string,
    body: Buffer,
  ): Promise<Captured | undefined> =>
    new Promise((resolve) => {
      mirrorsInFlight++;
      const handler = new MirrorExchange(ctx, target, resolve, () => mirrorsInFlight--);
      // The caller's content-length, if any, is the copy's too (undici sets it for chunked ones).
      const headers = upstreamRequestHeaders(req.rawHeaders, target.url.host, req.socket.remoteAddress, [
        MIRROR_HEADER,
        'true',
      ]);
      target.pool.dispatch(
        { method: req.method as Dispatcher.HttpMethod, path: target.basePath + path, headers, body },
        handler,
      );
    });

  const compare = async (
    candidate: string,
    served: Promise<Captured | undefined>,
    copy: Promise<Captured | undefined>,
    tolerance: number,
  ) => {
    const [a, b] = await Promise.all([served, copy]);
    if (!a || !b || a.status < 200 || a.status >= 300 || b.status < 200 || b.status >= 300) return;
    const c = compareResponses(a, b, tolerance);
    if (!c.comparable) return;
    stats.recordAgreement(candidate, c.agree, c.maxAbsDiff);
  };

  /** Routes `req` under the routes in force (sticky header included); undefined before any. */
  const resolve = (req: http.IncomingMessage): ResolvedRoute | undefined => {
    const sticky = table.routes?.stickyHeader;
    return table.resolve(sticky ? rawHeaderValue(req.rawHeaders, sticky) : undefined);
  };

  const holds = new HoldQueue<Held>(opts.maxHeld, (revision) => stats.load(revision), {
    firstHeld: (revision) => opts.onFirstHeld?.(revision),
    expired: (held, reason) => {
      held.res.off('close', held.onClose);
      const waited = `held ${Math.round(performance.now() - held.arrivedAt)} ms`;
      sendError(
        held.res,
        503,
        reason === 'deadline'
          ? `revision ${held.revision} has no ready pod: ${waited} waiting for it to start (hold timeout ${held.timeoutMs} ms)`
          : `revision ${held.revision} has no ready pod: ${waited} waiting for it to start, and the router is shutting down`,
        held.revision,
        HOLD_RETRY_AFTER_SECONDS,
      );
      ctx.record(held.revision, 'live', 503, held.arrivedAt);
      inFlight--;
    },
    ended: (revision, outcome, heldMs) => metrics.holdEnded(revision, outcome, heldMs),
  });

  /**
   * Holds a request for `revision` (its route says `hold`), or answers 503 at once when the queue
   * is full. Its body stays unread meanwhile.
   */
  const hold = (req: http.IncomingMessage, res: http.ServerResponse, revision: string, arrivedAt: number): void => {
    const timeoutMs = table.routes?.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS;
    const held: Held = {
      revision,
      req,
      res,
      arrivedAt,
      timeoutMs,
      onClose: () => {
        if (holds.cancel(held)) inFlight--;
      },
    };
    if (!holds.hold(held, timeoutMs)) {
      sendError(
        res,
        503,
        `revision ${revision} has no ready pod, and this router already holds ${holds.maxHeld} requests waiting for one (MODELSHIP_ROUTER_MAX_HELD)`,
        revision,
        HOLD_RETRY_AFTER_SECONDS,
      );
      ctx.record(revision, 'live', 503, arrivedAt);
      inFlight--;
      return;
    }
    res.once('close', held.onClose);
  };

  /**
   * A ready starting pod of held `revision` to send a request to straight (round-robin over the
   * ready ones), and where its resends go; undefined while none is known ready.
   */
  const directTo = (revision: string): { target: Target; direct: Direct } | undefined => {
    let pod = starting.pick(revision);
    const target = pod === undefined ? undefined : table.startingPod(revision, pod);
    if (!target) return undefined;
    const direct: Direct = {
      refused: () => {
        if (pod === undefined || !starting.lost(revision, pod)) return;
        log.warn('a starting pod found ready refused a connection: no longer sent to, probed again', {
          revision,
          pod,
        });
      },
      next: (current) => {
        pod = starting.pick(revision);
        return (pod === undefined ? undefined : table.startingPod(revision, pod)) ?? table.target(revision) ?? current;
      },
    };
    return { target, direct };
  };

  /**
   * Sends on, in arrival order, the held requests that may go now: their route no longer holds
   * (to the revision's Service), or a starting pod of their revision is ready (straight to it).
   */
  const releaseHeld = (): void => {
    if (holds.size === 0) return;
    const released = holds.release((held) => {
      const target = table.target(held.revision) ?? (resolve(held.req) as ResolvedRoute).served;
      return { revision: target.revision, hold: target.hold && !starting.hasReady(target.revision) };
    });
    for (const held of released) {
      held.res.off('close', held.onClose);
      if (draining) held.res.setHeader('connection', 'close');
      const served = table.target(held.revision) as Target;
      const to = served.hold ? directTo(served.revision) : undefined;
      forward(
        held.req,
        held.res,
        { served: to?.target ?? served, tolerance: 0 },
        stats.load(served.revision),
        held.arrivedAt,
        to?.direct,
      );
    }
  };

  const starting = new StartingPods(
    httpReadyProbe((revision, pod) => table.startingPod(revision, pod)),
    {
      ready: (revision, pod, probes) => {
        log.info("a starting pod answered ready: sending its revision's requests to it straight", {
          revision,
          pod,
          probes,
        });
        releaseHeld();
      },
    },
  );

  /** New routes are in force: probes the starting pods they list, sends on what they no longer hold. */
  const routesApplied = (): void => {
    if (table.routes) starting.sync(table.routes);
    releaseHeld();
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const route = resolve(req);
    if (draining) res.setHeader('connection', 'close');
    if (!route) {
      sendError(res, 503, 'no routes loaded yet: the router has not received a valid routes document');
      return;
    }
    inFlight++;
    const to = route.served.hold ? directTo(route.served.revision) : undefined;
    if (route.served.hold && !to) {
      // The copy this request drew is not made: released requests go without one.
      if (route.mirror) metrics.mirrorSkipped.inc({ reason: 'held' });
      hold(req, res, route.served.revision, performance.now());
      return;
    }
    const meter = stats.load(route.served.revision);
    meter.start();
    forward(req, res, to ? { ...route, served: to.target } : route, meter, undefined, to?.direct);
  };

  /**
   * Sends a request (counted in flight, and started at its revision's `meter`) to `route`'s
   * revision, and its copy to the mirror if the route has one that is not held. `direct` when
   * `route.served` is a starting pod of a held revision.
   */
  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    route: ResolvedRoute,
    meter: LoadMeter,
    heldSince: number | undefined,
    direct?: Direct,
  ): void => {
    const raw = req.rawHeaders;
    const served = route.served;
    const path = req.url ?? '/';
    const declared = parseLength(rawHeaderValue(raw, 'content-length'));
    const hasBody = declared !== undefined ? declared > 0 : rawHeaderValue(raw, 'transfer-encoding') !== undefined;

    let mirrorTarget = route.mirror;
    if (mirrorTarget) {
      if (mirrorTarget.hold) {
        // A copy is never held: it would keep a revision with no pod busy for nothing.
        metrics.mirrorSkipped.inc({ reason: 'held' });
        mirrorTarget = undefined;
      } else if ((declared ?? 0) > opts.mirrorMaxBytes) {
        metrics.mirrorSkipped.inc({ reason: 'too_large' });
        mirrorTarget = undefined;
      } else if (mirrorsInFlight >= opts.maxMirrorsInFlight) {
        metrics.mirrorSkipped.inc({ reason: 'saturated' });
        mirrorTarget = undefined;
      }
    }

    if (direct) metrics.directRequests.inc({ revision: served.revision });
    const exchange = new LiveExchange(ctx, served, res, meter, heldSince, direct);
    const observers = opts.observers?.active ? opts.observers : undefined;
    let requestId: string | undefined;
    if (observers) {
      const callers = rawHeaderValue(raw, REQUEST_ID_HEADER);
      requestId = requestIdOf(callers);
      exchange.requestId = requestId;
    }
    const headers = upstreamRequestHeaders(
      raw,
      served.url.host,
      req.socket.remoteAddress,
      requestId !== undefined && requestId !== rawHeaderValue(raw, REQUEST_ID_HEADER)
        ? [REQUEST_ID_HEADER, requestId]
        : [],
    );
    const method = req.method ?? (hasBody ? 'POST' : 'GET');
    const parts =
      observers && (!hasBody || (declared !== undefined && declared <= BUFFER_LIMIT))
        ? observers.wanted(served.revision, method, path)
        : undefined;
    const observe = (body: Buffer): void => {
      if (!parts) return;
      const contentType = rawHeaderValue(raw, 'content-type');
      const ihcl = rawHeaderValue(raw, 'inference-header-content-length');
      exchange.observation = new Observation(parts, {
        requestId: requestId as string,
        method,
        path,
        at: Date.now(),
        request: {
          contentType,
          inferenceHeaderLength: ihcl === undefined ? undefined : parseLength(ihcl),
          body,
        },
      });
    };
    let sendMirror: ((body: Buffer | undefined) => void) | undefined;
    if (mirrorTarget) {
      const target = mirrorTarget;
      let resolveServed: (c: Captured | undefined) => void = () => undefined;
      const servedPromise = new Promise<Captured | undefined>((r) => (resolveServed = r));
      exchange.servedCapture = { capture: new Capture(opts.mirrorMaxBytes), resolve: resolveServed };
      sendMirror = (body) => {
        if (!body) {
          metrics.mirrorSkipped.inc({ reason: 'too_large' });
          resolveServed(undefined);
          return;
        }
        void compare(target.revision, servedPromise, mirror(target, req, path, body), route.tolerance);
      };
    }

    if (!hasBody) {
      observe(Buffer.alloc(0));
      exchange.dispatch(req.method ?? 'GET', path, headers, null);
      sendMirror?.(Buffer.alloc(0));
      return;
    }
    if (declared !== undefined && declared <= BUFFER_LIMIT) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        observe(body);
        exchange.dispatch(req.method ?? 'POST', path, headers, body);
        sendMirror?.(body.length <= opts.mirrorMaxBytes ? body : undefined);
      });
      return;
    }
    if (sendMirror) {
      const capture = new Capture(opts.mirrorMaxBytes);
      const send = sendMirror;
      req.on('data', (c: Buffer) => capture.add(c));
      req.on('end', () => send(capture.body()));
    }
    exchange.dispatch(req.method ?? 'POST', path, headers, req);
  };

  return {
    handle,
    inFlight: () => inFlight,
    startDraining: () => {
      draining = true;
    },
    routesApplied,
    expireHeld: () => holds.expireAll(),
    close: () => starting.close(),
  };
}
