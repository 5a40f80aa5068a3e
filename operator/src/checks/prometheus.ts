/**
 * The metric checks' shell: one instant query per metric against its Prometheus HTTP API, reduced
 * to a number or the reason there is none (rollout/metrics.ts judges it).
 */
import type { MetricSpec } from '../api/types.js';
import { METRIC_QUERY_TIMEOUT_SECONDS, valueOfAnswer, type MetricAnswer } from '../rollout/metrics.js';
import { failureOf } from './call.js';

/** Asks one metric's query; never throws: every way it can go wrong is an answer without a value. */
export type MetricQuerier = (metric: MetricSpec, at: Date) => Promise<MetricAnswer>;

/**
 * GETs /api/v1/query?query=…&time=<at> and waits at most METRIC_QUERY_TIMEOUT_SECONDS. Prometheus
 * answers a bad query with a 4xx whose JSON says why, so the body is read whatever the status.
 */
export const queryMetric: MetricQuerier = async (metric, at) => {
  const url = new URL(`${metric.prometheus.address.replace(/\/+$/, '')}/api/v1/query`);
  url.searchParams.set('query', metric.prometheus.query);
  url.searchParams.set('time', (at.getTime() / 1000).toFixed(3));
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(METRIC_QUERY_TIMEOUT_SECONDS * 1000) });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { name: metric.name, error: `HTTP ${res.status}, not a Prometheus answer` };
    }
    return valueOfAnswer(metric.name, body);
  } catch (err) {
    return { name: metric.name, error: failureOf(err as Error, METRIC_QUERY_TIMEOUT_SECONDS) };
  }
};
