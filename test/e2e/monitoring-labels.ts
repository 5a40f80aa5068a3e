/**
 * What a labelling client does with spec.monitoring.accuracy: sends inference requests through the
 * router, keeps each answer's x-request-id, and posts the true labels of those requests a little
 * later to the router's labels API (contract/accuracy.ts LABELS_PATH), as a batch.
 */

import { LABELS_PATH } from '../../contract/accuracy.js';
import { digitSamples, sampleIndex, type Sample } from './load.js';

/** What the labels API answered over a labeller's run. */
export interface LabelCounts {
  /** Inference requests answered 200 with an x-request-id. */
  answered: number;
  /** Label entries the router joined with a prediction. */
  matched: number;
  /** Label posts answered with anything but 200 (the body of the first, for the failure message). */
  refused: number;
  firstRefusal?: string;
}

/**
 * Sends one request every `everyMs` to `url` and, every `batch` answers, posts their labels. Stop it
 * with stop(), which posts what is left and resolves with the counts.
 */
export class Labeller {
  private readonly samples: Sample[] = digitSamples();
  private readonly waiting: { id: string; labels: number[] }[] = [];
  private readonly counts: LabelCounts = { answered: 0, matched: 0, refused: 0 };
  private stopped = false;
  private readonly done: Promise<void>;

  private constructor(
    private readonly url: string,
    private readonly model: string,
    private readonly everyMs: number,
    private readonly batch: number,
  ) {
    this.done = this.loop();
  }

  static start(url: string, model: string, everyMs = 50, batch = 20): Labeller {
    return new Labeller(url, model, everyMs, batch);
  }

  /** The counts so far. */
  get figures(): LabelCounts {
    return { ...this.counts };
  }

  async stop(): Promise<LabelCounts> {
    this.stopped = true;
    await this.done;
    await this.post();
    return this.figures;
  }

  private async loop(): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const sample = this.samples[sampleIndex(i, this.samples.length)]!;
      try {
        const res = await fetch(`${this.url}/v2/models/${this.model}/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: sample.body,
        });
        await res.arrayBuffer();
        const id = res.headers.get('x-request-id');
        if (res.status === 200 && id !== null) {
          this.counts.answered++;
          this.waiting.push({ id, labels: sample.labels });
        }
      } catch {
        // A request the router could not answer (a revision going away) has nothing to label.
      }
      if (this.waiting.length >= this.batch) await this.post();
      await new Promise((resolve) => setTimeout(resolve, this.everyMs));
    }
  }

  private async post(): Promise<void> {
    const entries = this.waiting.splice(0);
    if (entries.length === 0) return;
    try {
      const res = await fetch(`${this.url}${LABELS_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ labels: entries }),
      });
      const text = await res.text();
      if (res.status !== 200) {
        this.counts.refused++;
        this.counts.firstRefusal ??= `${res.status} ${text}`;
        return;
      }
      this.counts.matched += (JSON.parse(text) as { matched?: number }).matched ?? 0;
    } catch (err) {
      this.counts.refused++;
      this.counts.firstRefusal ??= (err as Error).message;
    }
  }
}
