/**
 * A steady load generator for the canary e2e tests: N concurrent loops, each sending V2 inference
 * requests with the labelled digit samples of examples/models/samples over its own keep-alive
 * connection, recording for every request when it started, its status, the revision that served it
 * (x-modelship-revision) and whether the predicted label was the true one. The tests then ask what
 * a user would notice: failed requests, wrong answers, which revision answered, and when.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

import { repoRoot } from '../cluster/cluster.js';

/** One labelled request body. */
export interface Sample {
  file: string;
  body: Buffer;
  /** The true labels, in row order. */
  labels: number[];
}

/** What happened to one request. */
export interface Outcome {
  /** Date.now() when the request was sent. */
  at: number;
  /** HTTP status; 0 when no response came (connection refused or reset). */
  status: number;
  /** x-modelship-revision of the answer, when present. */
  revision?: string;
  /** Whether a 200 answer's labels were the true ones. */
  correct?: boolean;
  /** The error body or network error of a failed request. */
  error?: string;
}

/** The single-row V2 samples (digit-<d>.v2.json) with their true labels, from samples/index.json. */
export function digitSamples(): Sample[] {
  const dir = join(repoRoot(), 'examples/models/samples');
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
    samples: { file: string; protocol: string; labels: number[] }[];
  };
  return index.samples
    .filter((s) => s.protocol === 'v2' && /^digit-\d\.v2\.json$/.test(s.file))
    .map((s) => ({ file: s.file, body: readFileSync(join(dir, s.file)), labels: s.labels }));
}

/**
 * Which sample the i-th request of a load sends: a fixed pseudo-random sequence (a 32-bit integer
 * hash of i), not `i % n`. The router splits traffic exactly (1 request in 5 at 20%), so a load that
 * cycled through its samples in order would send a canary the same few samples every time, and an
 * input-dependent fault (digits-faulty fails on 4 of the 10) could go unseen by the analysis.
 */
export function sampleIndex(i: number, n: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % n;
}

/** Counts of a set of outcomes. */
export interface Summary {
  requests: number;
  /** Requests that did not get a 200. */
  failed: number;
  /** 200 answers with a wrong label. */
  wrong: number;
  byStatus: Record<string, number>;
  byRevision: Record<string, number>;
}

/** Summarises outcomes (e.g. a slice of a Load's record). */
export function summarize(outcomes: readonly Outcome[]): Summary {
  const s: Summary = { requests: outcomes.length, failed: 0, wrong: 0, byStatus: {}, byRevision: {} };
  for (const o of outcomes) {
    if (o.status !== 200) s.failed++;
    if (o.correct === false) s.wrong++;
    s.byStatus[o.status] = (s.byStatus[o.status] ?? 0) + 1;
    const rev = o.revision ?? 'none';
    s.byRevision[rev] = (s.byRevision[rev] ?? 0) + 1;
  }
  return s;
}

/** Settings of a load run. */
export interface LoadOptions {
  /** Base URL of the Service (e.g. the apex Service's local URL). */
  url: string;
  /** Model name in the V2 path. */
  model: string;
  /** Concurrent request loops. */
  concurrency: number;
  /** Stop after this many requests in all (default: run until stop()). */
  total?: number;
  samples?: Sample[];
  /** Extra request headers on every request (e.g. Authorization for a ModelDeployment with spec.auth). */
  headers?: Record<string, string>;
}

/** A running load: its outcomes so far, in completion order. */
export class Load {
  readonly outcomes: Outcome[] = [];
  private stopped = false;
  private sent = 0;
  private readonly loops: Promise<void>[];
  private readonly agent: http.Agent;
  private readonly samples: Sample[];

  private constructor(private readonly opts: LoadOptions) {
    this.samples = opts.samples ?? digitSamples();
    // One connection per loop, kept alive: steady like a real client pool.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
    this.loops = Array.from({ length: opts.concurrency }, (_, i) => this.loop(i));
  }

  /** Starts the loops at once. */
  static start(opts: LoadOptions): Load {
    return new Load(opts);
  }

  /** Outcomes of requests sent at or after `since` (Date.now()). */
  since(since: number): Outcome[] {
    return this.outcomes.filter((o) => o.at >= since);
  }

  /** Resolves once `total` requests are done (or stop() was called). */
  async done(): Promise<Outcome[]> {
    await Promise.all(this.loops);
    this.agent.destroy();
    return this.outcomes;
  }

  /** Stops sending; resolves with every outcome once requests in flight finish. */
  stop(): Promise<Outcome[]> {
    this.stopped = true;
    return this.done();
  }

  private async loop(offset: number): Promise<void> {
    for (
      let i = offset;
      !this.stopped && (this.opts.total === undefined || this.sent < this.opts.total);
      i += this.opts.concurrency
    ) {
      this.sent++;
      this.outcomes.push(await this.send(this.samples[sampleIndex(i, this.samples.length)]!));
    }
  }

  private send(sample: Sample): Promise<Outcome> {
    const at = Date.now();
    return new Promise((resolve) => {
      const req = http.request(
        `${this.opts.url}/v2/models/${this.opts.model}/infer`,
        {
          method: 'POST',
          agent: this.agent,
          headers: { ...this.opts.headers, 'content-type': 'application/json', 'content-length': sample.body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => resolve({ at, status: 0, error: err.message }));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const revision = res.headers['x-modelship-revision'] as string | undefined;
            const status = res.statusCode ?? 0;
            if (status !== 200) return resolve({ at, status, revision, error: text.slice(0, 300) });
            const body = JSON.parse(text) as { outputs?: { name: string; data: unknown[] }[] };
            const labels = body.outputs?.find((o) => o.name === 'label')?.data;
            resolve({ at, status, revision, correct: JSON.stringify(labels) === JSON.stringify(sample.labels) });
          });
        },
      );
      req.on('error', (err) => resolve({ at, status: 0, error: err.message }));
      req.end(sample.body);
    });
  }
}
