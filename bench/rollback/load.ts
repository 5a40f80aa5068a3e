/**
 * Steady load for the rollback benchmark: N request loops, each on its own keep-alive connection
 * (so each stays with one router process behind the apex Service, as a client's pool would),
 * sending the digit samples' V2 requests back to back and recording every request's send time,
 * answer time, status and x-modelship-revision.
 */
import http from 'node:http';

import type { Sample } from '../../test/e2e/load.js';
import type { RequestRecord } from './settle.js';

/** Per-request socket timeout: a request that hangs this long counts as failed (status 0). */
const REQUEST_TIMEOUT_MS = 10_000;

/** A running load. */
export class RecordingLoad {
  /** Every finished request, in completion order. */
  readonly records: RequestRecord[] = [];
  /** Per loop, the send time of its request in flight. */
  private readonly inFlight = new Map<number, number>();
  private readonly agents: http.Agent[];
  private readonly loops: Promise<void>[];
  private stopped = false;
  private paused = false;

  constructor(
    private readonly url: string,
    private readonly model: string,
    readonly loopCount: number,
    private readonly samples: readonly Sample[],
  ) {
    this.agents = Array.from({ length: loopCount }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    this.loops = this.agents.map((agent, loop) => this.loop(loop, agent));
  }

  /** Whether every request sent at or before `t` has finished. */
  finishedUpTo(t: number): boolean {
    return [...this.inFlight.values()].every((sentAt) => sentAt > t);
  }

  /** Holds every loop after its request in flight, until resume(). */
  pause(): void {
    this.paused = true;
  }

  /** Lets the loops send again. */
  resume(): void {
    this.paused = false;
  }

  /** Stops sending and waits for requests in flight. */
  async stop(): Promise<RequestRecord[]> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const a of this.agents) a.destroy();
    return this.records;
  }

  private async loop(loop: number, agent: http.Agent): Promise<void> {
    for (let i = loop; !this.stopped; i++) {
      while (this.paused && !this.stopped) await new Promise((r) => setTimeout(r, 20));
      if (this.stopped) return;
      const record = await this.send(loop, agent, this.samples[i % this.samples.length]!);
      this.records.push(record);
      // A refused connection answers at once: do not spin while nothing listens.
      if (record.status === 0) await new Promise((r) => setTimeout(r, 50));
    }
  }

  private send(loop: number, agent: http.Agent, sample: Sample): Promise<RequestRecord> {
    const sentAt = Date.now();
    this.inFlight.set(loop, sentAt);
    return new Promise((resolve) => {
      let finished = false;
      const finish = (status: number, revision?: string): void => {
        if (finished) return;
        finished = true;
        this.inFlight.delete(loop);
        resolve({ loop, sentAt, doneAt: Date.now(), status, ...(revision !== undefined ? { revision } : {}) });
      };
      const req = http.request(
        `${this.url}/v2/models/${this.model}/infer`,
        {
          method: 'POST',
          agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers: { 'content-type': 'application/json', 'content-length': sample.body.length },
        },
        (res) => {
          res.on('error', () => finish(0));
          res.on('end', () => finish(res.statusCode ?? 0, res.headers['x-modelship-revision'] as string | undefined));
          res.resume();
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => finish(0));
      req.end(sample.body);
    });
  }
}
