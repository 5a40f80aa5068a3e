/**
 * A bounded load ramp for the autoscaling e2e and the cold-start benchmark: the number of clients
 * follows a schedule (for example 0 → 12 over a minute, held, then back to 0), each client a closed
 * loop on its own keep-alive connection (so the clients spread over the router pods behind the
 * apex Service as separate users would) sending the digit samples' V2 requests (test-set rows with
 * their true labels), and every answer is checked for the right class. Every request is recorded:
 * when it was sent and answered, its status (0: no answer), which revision answered and whether
 * the label was right. The schedule, a per-request deadline and the clients cap bound the run.
 */
import http from 'node:http';

import { digitSamples, sampleIndex, type Outcome, type Sample } from '../e2e/load.js';

/** One leg of a ramp: the client count moves linearly to `clients` over `seconds`. */
export interface RampLeg {
  clients: number;
  seconds: number;
}

/** What happened to one request of a ramp. */
export interface RampOutcome extends Outcome {
  /** Date.now() when the answer (or the error) arrived. */
  doneAt: number;
  /** Which client sent it (0-based: client k runs while the schedule has more than k clients). */
  client: number;
}

/** Counts of a ramp's requests, as a user would tell them. */
export interface RampCounts {
  sent: number;
  /** 200 answers with the true label. */
  answered: number;
  /** 200 answers with a wrong label. */
  wrong: number;
  /** Requests without a 200 answer. */
  failed: number;
  /** Requests per status code (0: no answer: refused, reset or past the deadline). */
  byStatus: Record<string, number>;
}

/** Settings of a ramp. */
export interface RampOptions {
  /** Base URL of the Service (the apex Service's address). */
  url: string;
  /** Model name in the V2 path. */
  model: string;
  legs: readonly RampLeg[];
  /** A request not answered within this is abandoned and counted failed (status 0). Default 90 s. */
  requestTimeoutMs?: number;
  samples?: readonly Sample[];
}

/** The most clients a ramp may ask for: a bound on this machine's sockets and CPU, not a target. */
export const MAX_CLIENTS = 64;

/** The client count `ms` after the start of `legs` (a linear move per leg, rounded down; 0 after the end). */
export function clientsAt(legs: readonly RampLeg[], ms: number): number {
  let from = 0;
  let t = ms / 1000;
  for (const leg of legs) {
    if (t < leg.seconds) return Math.floor(from + ((leg.clients - from) * t) / leg.seconds);
    t -= leg.seconds;
    from = leg.clients;
  }
  return 0;
}

/** The length of a schedule in ms. */
export function rampMs(legs: readonly RampLeg[]): number {
  return legs.reduce((sum, leg) => sum + leg.seconds * 1000, 0);
}

/** Counts of outcomes. */
export function countOutcomes(outcomes: readonly Outcome[]): RampCounts {
  const c: RampCounts = { sent: outcomes.length, answered: 0, wrong: 0, failed: 0, byStatus: {} };
  for (const o of outcomes) {
    c.byStatus[o.status] = (c.byStatus[o.status] ?? 0) + 1;
    if (o.status !== 200) c.failed++;
    else if (o.correct) c.answered++;
    else c.wrong++;
  }
  return c;
}

/**
 * Sends one V2 request of `sample` on `agent` and records it. A 200 answer is read and its
 * labels compared with the sample's; any other answer keeps the start of its body as the error.
 */
export function sendSample(
  url: string,
  model: string,
  sample: Sample,
  opts: { agent?: http.Agent; timeoutMs?: number; client?: number } = {},
): Promise<RampOutcome> {
  const at = Date.now();
  const client = opts.client ?? 0;
  return new Promise((resolve) => {
    let finished = false;
    const finish = (o: Omit<RampOutcome, 'at' | 'doneAt' | 'client'>): void => {
      if (finished) return;
      finished = true;
      resolve({ at, doneAt: Date.now(), client, ...o });
    };
    const req = http.request(
      `${url}/v2/models/${model}/infer`,
      {
        method: 'POST',
        agent: opts.agent,
        timeout: opts.timeoutMs ?? 90_000,
        headers: { 'content-type': 'application/json', 'content-length': sample.body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => finish({ status: 0, error: err.message }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const revision = res.headers['x-modelship-revision'] as string | undefined;
          const status = res.statusCode ?? 0;
          if (status !== 200) return finish({ status, revision, error: text.slice(0, 300) });
          let labels: unknown;
          try {
            labels = (JSON.parse(text) as { outputs?: { name: string; data: unknown[] }[] }).outputs?.find(
              (o) => o.name === 'label',
            )?.data;
          } catch {
            return finish({ status, revision, correct: false, error: `not JSON: ${text.slice(0, 100)}` });
          }
          finish({ status, revision, correct: JSON.stringify(labels) === JSON.stringify(sample.labels) });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 90_000} ms`)));
    req.on('error', (err) => finish({ status: 0, error: err.message }));
    req.end(sample.body);
  });
}

/** A running ramp. */
export class Ramp {
  /** Every finished request, in completion order. */
  readonly outcomes: RampOutcome[] = [];
  /** Date.now() at the start of the schedule. */
  readonly startedAt = Date.now();
  private readonly loops = new Map<number, Promise<void>>();
  private readonly agents: http.Agent[] = [];
  private readonly samples: readonly Sample[];
  private readonly ticker: NodeJS.Timeout;
  private readonly finished: Promise<RampOutcome[]>;
  private stopped = false;
  private sent = 0;

  private constructor(private readonly opts: RampOptions) {
    const most = Math.max(0, ...opts.legs.map((l) => l.clients));
    if (most > MAX_CLIENTS) throw new Error(`ramp: ${most} clients asked for; at most ${MAX_CLIENTS}`);
    this.samples = opts.samples ?? digitSamples();
    this.ticker = setInterval(() => this.tick(), 100);
    this.tick();
    this.finished = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (this.stopped || Date.now() - this.startedAt >= rampMs(opts.legs)) {
          clearInterval(check);
          resolve();
        }
      }, 100);
    }).then(() => this.settle());
  }

  /** Starts the schedule now. */
  static start(opts: RampOptions): Ramp {
    return new Ramp(opts);
  }

  /** Clients the schedule asks for now. */
  clientsNow(): number {
    return this.stopped ? 0 : clientsAt(this.opts.legs, Date.now() - this.startedAt);
  }

  /** Requests sent so far. */
  sentSoFar(): number {
    return this.sent;
  }

  /** Resolves with every outcome once the schedule ended and the requests in flight finished. */
  done(): Promise<RampOutcome[]> {
    return this.finished;
  }

  /** Ends the schedule now (clients finish the request they are in); resolves as done(). */
  stop(): Promise<RampOutcome[]> {
    this.stopped = true;
    return this.finished;
  }

  private async settle(): Promise<RampOutcome[]> {
    this.stopped = true;
    clearInterval(this.ticker);
    await Promise.all(this.loops.values());
    for (const a of this.agents) a.destroy();
    return this.outcomes;
  }

  /** Starts the loops of clients the schedule now wants and that are not running. */
  private tick(): void {
    const want = this.clientsNow();
    for (let k = 0; k < want; k++) {
      if (this.loops.has(k)) continue;
      this.agents[k] ??= new http.Agent({ keepAlive: true, maxSockets: 1 });
      this.loops.set(
        k,
        this.loop(k).finally(() => this.loops.delete(k)),
      );
    }
  }

  private async loop(k: number): Promise<void> {
    // A client runs while the schedule has more than k clients; it leaves after its answer.
    for (let i = k; this.clientsNow() > k; i += MAX_CLIENTS) {
      this.sent++;
      const o = await sendSample(this.opts.url, this.opts.model, this.samples[sampleIndex(i, this.samples.length)]!, {
        agent: this.agents[k],
        timeoutMs: this.opts.requestTimeoutMs,
        client: k,
      });
      this.outcomes.push(o);
      // A refused connection fails at once: do not spin while nothing listens.
      if (o.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
  }
}
