/**
 * How well our server batched during a run, from its own Prometheus metrics: the
 * `modelship_batch_size` histogram's sum (rows) and count (inference runs). Pure parsing here;
 * the runner scrapes the metrics port before and after the measured run.
 */

/** Rows and inference runs so far, as the server's batch-size histogram counts them. */
export interface BatchTotals {
  rows: number;
  runs: number;
}

/** Read `<name>_sum` and `<name>_count` (unlabelled) from Prometheus text exposition. */
export function batchTotals(metricsText: string, name = 'modelship_batch_size'): BatchTotals {
  const value = (series: string): number => {
    const line = metricsText.split('\n').find((l) => l.startsWith(`${series} `) || l.startsWith(`${series}{`));
    if (line === undefined) throw new Error(`read metrics: no ${series} series`);
    const n = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(n)) throw new Error(`read metrics: ${series} is not a number in ${JSON.stringify(line)}`);
    return n;
  };
  return { rows: value(`${name}_sum`), runs: value(`${name}_count`) };
}

/** Mean rows per inference run between two readings, or null when no run happened. */
export function meanBatchRows(before: BatchTotals, after: BatchTotals): number | null {
  const runs = after.runs - before.runs;
  return runs > 0 ? (after.rows - before.rows) / runs : null;
}
