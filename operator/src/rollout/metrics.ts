/**
 * Metric checks (spec.rollout.analysis.metrics), the pure half: what a Prometheus answer comes to,
 * and what a set of values does to an analysis check. The shell (operator/src/checks/) asks
 * Prometheus when a check is due; this judges. Like Flagger's metric templates, and unlike a
 * "no values found" that passes: a query without one number to judge is inconclusive, never a pass.
 */
import type { MetricSpec } from '../api/types.js';
import { failedBy, type Judged } from './analysis.js';

/** What one query gave: a value, or why there is none to judge. */
export type MetricAnswer = { name: string; value: number } | { name: string; error: string };

/** The CRD's stated wait for a Prometheus answer, in seconds: no answer in time is no data. */
export const METRIC_QUERY_TIMEOUT_SECONDS = 10;

/**
 * The one number of a Prometheus /api/v1/query answer (a scalar, or a vector of one series), or
 * why there is none: an error answer, no series, several series, NaN or an infinite value.
 */
export function valueOfAnswer(name: string, body: unknown): MetricAnswer {
  const answer = body as {
    status?: string;
    error?: string;
    data?: { resultType?: string; result?: unknown };
  };
  if (answer?.status !== 'success')
    return { name, error: `Prometheus error: ${answer?.error ?? 'not a query answer'}` };
  const { resultType, result } = answer.data ?? {};
  let sample: unknown;
  if (resultType === 'scalar') sample = result;
  else if (resultType === 'vector' && Array.isArray(result)) {
    if (result.length === 0) return { name, error: 'no data' };
    if (result.length > 1) return { name, error: `${result.length} series, the query must return one` };
    sample = (result[0] as { value?: unknown }).value;
  } else return { name, error: `a ${resultType ?? 'missing'} result, the query must return one number` };
  const value = Array.isArray(sample) ? Number(sample[1]) : NaN;
  return Number.isFinite(value)
    ? { name, value }
    : { name, error: `no number (${String((sample as unknown[])?.[1])})` };
}

/** `orders 0.42 < min 0.5`: one metric's value against its range, or why it has none. */
function judged(
  spec: MetricSpec,
  answer: MetricAnswer | undefined,
): { result: 'Passed' | 'Failed' | 'Inconclusive'; text: string } {
  if (answer === undefined) return { result: 'Inconclusive', text: `metric ${spec.name}: no answer` };
  if ('error' in answer) return { result: 'Inconclusive', text: `metric ${spec.name}: ${answer.error}` };
  const { min, max } = spec.thresholdRange;
  const v = answer.value;
  if (min !== undefined && v < min) return { result: 'Failed', text: `metric ${spec.name} ${v} < min ${min}` };
  if (max !== undefined && v > max) return { result: 'Failed', text: `metric ${spec.name} ${v} > max ${max}` };
  return { result: 'Passed', text: `metric ${spec.name} ${v}` };
}

/**
 * A check with the metrics judged into it: any value out of range fails it (broken `metric`, after
 * the analysis' own limits); a metric without a value makes a passing check inconclusive; only
 * every metric in range leaves its result as it was.
 */
export function withMetrics<C extends Judged>(check: C, specs: MetricSpec[], answers: MetricAnswer[]): C {
  const verdicts = specs.map((s) =>
    judged(
      s,
      answers.find((a) => a.name === s.name),
    ),
  );
  const failed = verdicts.filter((v) => v.result === 'Failed');
  const unjudged = verdicts.filter((v) => v.result === 'Inconclusive');
  if (failed.length > 0) return failedBy(check, 'metric', failed.map((v) => v.text).join('; '));
  if (unjudged.length > 0 && check.result === 'Passed') {
    return {
      ...check,
      result: 'Inconclusive',
      message: `${unjudged.map((v) => v.text).join('; ')} (analysis: ${check.message})`,
    };
  }
  return { ...check, message: `${check.message}; ${verdicts.map((v) => v.text).join(', ')}` };
}
