/**
 * Dynamic batching decisions, as a pure function of the queue and the clock. The scheduler asks
 * whenever a worker is free; requests keep gathering in the queue while every worker is busy.
 */

/** What the batcher needs to know about one queued request. */
export interface QueuedRequest {
  /** Requests with equal keys may be concatenated; undefined means "always runs alone". */
  batchKey?: string;
  /** Rows along the batch dimension. */
  rows: number;
  /** When it was queued, in milliseconds on the same clock as `now`. */
  queuedAt: number;
}

/** Batching limits from the server configuration. */
export interface BatchLimits {
  maxBatchSize: number;
  maxLatencyMs: number;
}

/** Run these queue positions together now, wait until a deadline, or nothing is queued. */
export type BatchDecision = { kind: 'run'; indices: number[] } | { kind: 'wait'; until: number } | { kind: 'idle' };

/**
 * The next batch to run. Requests are grouped by batch key in order of their oldest member; a group
 * takes members in queue order while their rows fit in maxBatchSize. A group runs when it is full or
 * its oldest member has waited maxLatencyMs; the first group (by age) that may run, runs. Requests
 * without a key, with no rows, or as large as maxBatchSize on their own run alone at once.
 */
export function nextBatch(queue: readonly QueuedRequest[], now: number, limits: BatchLimits): BatchDecision {
  const { maxBatchSize, maxLatencyMs } = limits;
  const considered = new Set<string>();
  let earliestDeadline = Infinity;
  for (let i = 0; i < queue.length; i++) {
    const head = queue[i];
    if (head.batchKey === undefined || head.rows === 0 || head.rows >= maxBatchSize) {
      return { kind: 'run', indices: [i] };
    }
    if (considered.has(head.batchKey)) continue;
    considered.add(head.batchKey);

    const indices = [i];
    let rows = head.rows;
    for (let j = i + 1; j < queue.length && rows < maxBatchSize; j++) {
      const next = queue[j];
      if (next.batchKey !== head.batchKey || next.rows === 0 || rows + next.rows > maxBatchSize) continue;
      indices.push(j);
      rows += next.rows;
    }
    const deadline = head.queuedAt + maxLatencyMs;
    if (rows >= maxBatchSize || now >= deadline) return { kind: 'run', indices };
    earliestDeadline = Math.min(earliestDeadline, deadline);
  }
  return queue.length === 0 ? { kind: 'idle' } : { kind: 'wait', until: earliestDeadline };
}
