/**
 * The router's monitoring parts, built from the `monitoring` block of the routes in force
 * (contract/routes.ts): payload logging, drift and accuracy, each an {@link ExchangeObserver} on
 * the proxy's observation tap. A routes change that turns a part off stops it; one that keeps it
 * changes its settings in place, so its counts and windows carry on.
 */
import type http from 'node:http';
import type { Routes } from '../../../contract/routes.js';
import type { Logger } from '../../../common/log.js';
import { AccuracyMonitor } from './accuracy.js';
import { DriftObserver } from './drift.js';
import { checkLabelsCaller, labelTokenFiles } from './labels-auth.js';
import type { RouterMetrics } from './metrics.js';
import { Observers, type ExchangeObserver } from './observe.js';
import { PayloadLogger } from './payload-log.js';
import type { RouterStats } from './stats.js';

/** What the monitoring parts need from the router. */
export interface MonitoringDeps {
  stats: RouterStats;
  metrics: RouterMetrics;
  log: Logger;
  /** The directory routes' `tokenFile`s are relative to (default DEFAULT_ROUTER_TOKEN_DIR). */
  tokenDir?: string;
  /** The payload-log queue's bounds (RouterConfig.payloadQueue). */
  payloadQueue: { events: number; bytes: number };
  /** Requests per second of each revision drift observes at most (RouterConfig.driftSampleRps). */
  driftSampleRps: number;
}

/** How long shutdown waits for queued payload-log events to reach the sink. */
const PAYLOAD_LOG_CLOSE_MS = 5_000;

/** The monitoring parts in force and the observers the proxy consults. */
export class RouterMonitoring {
  readonly observers = new Observers();
  /** Live accuracy, while the routes ask for it. */
  private accuracy?: AccuracyMonitor;
  /** Lives as long as the router, so its queue drains and its counts carry on across routes changes. */
  private readonly payloadLog: PayloadLogger;
  /** Drift, while the routes ask for it. */
  private drift?: DriftObserver;
  /** The token files a labels caller must hold a token of (none: labels are open). */
  private labelTokens: string[] = [];

  constructor(private readonly deps: MonitoringDeps) {
    const { metrics } = this.deps;
    metrics.countPending(() => this.accuracy?.pending() ?? 0);
    this.payloadLog = new PayloadLogger({
      source: this.deps.stats.pod,
      queueEvents: this.deps.payloadQueue.events,
      queueBytes: this.deps.payloadQueue.bytes,
      count: (revision, outcome, n) => metrics.payloadEvents.inc({ revision, outcome }, n),
      log: this.deps.log,
    });
    metrics.countPayloadQueue(() => this.payloadLog.depth);
    metrics.setDriftThreshold(() => this.drift?.threshold);
  }

  /** Puts the routes' monitoring settings in force. */
  apply(routes: Routes): void {
    const parts: ExchangeObserver[] = [];
    this.payloadLog.configure(routes.monitoring?.payloadLog);
    if (routes.monitoring?.payloadLog?.percent) parts.push(this.payloadLog);
    const accuracy = routes.monitoring?.accuracy;
    if (!accuracy) this.accuracy = undefined;
    else if (this.accuracy) this.accuracy.configure(accuracy);
    else this.accuracy = new AccuracyMonitor(accuracy, this.deps);
    if (this.accuracy) parts.push(this.accuracy);
    this.labelTokens = labelTokenFiles(routes, this.deps.tokenDir);
    // Drift: one window per revision, kept across routes changes that keep its settings.
    const drift = routes.monitoring?.drift;
    if (drift === undefined) {
      this.drift?.close();
      this.drift = undefined;
      this.deps.stats.setDriftSource(undefined);
    } else {
      if (this.drift) this.drift.configure(drift, routes.revisions);
      else
        this.drift = new DriftObserver(drift, routes.revisions, {
          log: this.deps.log,
          tokenDir: this.deps.tokenDir,
          sampleRps: this.deps.driftSampleRps,
        });
      const observer = this.drift;
      this.deps.stats.setDriftSource(() => observer.read());
      parts.push(observer);
    }
    this.observers.set(parts);
  }

  /**
   * `POST LABELS_PATH` (contract/accuracy.ts): 404 while the routes do not turn accuracy on, 401
   * without a revision's bearer token while the revisions require one (labels-auth.ts).
   */
  async handleLabels(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!this.accuracy) {
      req.resume();
      return sendError(res, 404, 'labels: live accuracy is off (the routes have no monitoring.accuracy)');
    }
    const accuracy = this.accuracy;
    const authorization = req.headers.authorization;
    const caller = await checkLabelsCaller(authorization, this.labelTokens);
    if (caller !== 'ok') {
      req.resume();
      return sendError(
        res,
        401,
        caller === 'missing'
          ? 'labels: missing bearer token: send "Authorization: Bearer <token>" with a token of the revisions'
          : 'labels: invalid bearer token',
      );
    }
    return accuracy.handleLabels(req, res, authorization);
  }

  /** Stops every part (shutdown), sending what is queued while the drain allows. */
  async close(): Promise<void> {
    this.drift?.close();
    await this.payloadLog.close(PAYLOAD_LOG_CLOSE_MS);
  }
}

function sendError(res: http.ServerResponse, status: number, error: string): void {
  const text = JSON.stringify({ error });
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
  res.writeHead(status, status === 401 ? { ...headers, 'www-authenticate': 'Bearer' } : headers).end(text);
}
