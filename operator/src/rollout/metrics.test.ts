import type { MetricSpec } from '../api/types.js';
import type { Judged } from './analysis.js';
import { valueOfAnswer, withMetrics, type MetricAnswer } from './metrics.js';

const vector = (...values: string[]) => ({
  status: 'success',
  data: { resultType: 'vector', result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1700000000, v] })) },
});

describe('valueOfAnswer: one number, or why there is none', () => {
  it.each([
    ['a vector of one series', vector('0.25'), { value: 0.25 }],
    ['a scalar', { status: 'success', data: { resultType: 'scalar', result: [1700000000, '3'] } }, { value: 3 }],
    ['no series', vector(), { error: 'no data' }],
    ['two series', vector('1', '2'), { error: '2 series, the query must return one' }],
    ['NaN', vector('NaN'), { error: 'no number (NaN)' }],
    ['+Inf', vector('+Inf'), { error: 'no number (+Inf)' }],
    [
      'a matrix',
      { status: 'success', data: { resultType: 'matrix', result: [] } },
      { error: 'a matrix result, the query must return one number' },
    ],
    [
      'an error answer',
      { status: 'error', errorType: 'bad_data', error: 'parse error at char 5' },
      { error: 'Prometheus error: parse error at char 5' },
    ],
    ['no answer at all', null, { error: 'Prometheus error: not a query answer' }],
  ])('%s', (_, body, expected) => {
    expect(valueOfAnswer('orders', body)).toEqual({ name: 'orders', ...expected });
  });
});

describe('withMetrics: out of range fails, no value is never a pass', () => {
  const spec = (name: string, thresholdRange: MetricSpec['thresholdRange']): MetricSpec => ({
    name,
    prometheus: { address: 'http://p', query: name },
    thresholdRange,
  });
  const specs = [spec('orders', { min: 0.5 }), spec('refunds', { min: 0, max: 0.1 })];
  const passed: Judged = { result: 'Passed', message: '120 requests, error rate 0%' };
  const inconclusive: Judged = { result: 'Inconclusive', message: '3 requests < 50 minimum' };
  const failed: Judged = { result: 'Failed', message: 'error rate 4.2% > 1%', broken: ['errorRate'] };
  const values = (orders?: number, refunds?: number): MetricAnswer[] => [
    orders === undefined ? { name: 'orders', error: 'no data' } : { name: 'orders', value: orders },
    ...(refunds === undefined ? [] : [{ name: 'refunds', value: refunds }]),
  ];

  it.each<[string, Judged, MetricAnswer[], Judged]>([
    [
      'in range: the check stands, with the values',
      passed,
      values(0.9, 0.05),
      { result: 'Passed', message: '120 requests, error rate 0%; metric orders 0.9, metric refunds 0.05' },
    ],
    [
      'bounds are included',
      passed,
      values(0.5, 0.1),
      { result: 'Passed', message: '120 requests, error rate 0%; metric orders 0.5, metric refunds 0.1' },
    ],
    [
      'below min fails a passing check',
      passed,
      values(0.42, 0),
      {
        result: 'Failed',
        broken: ['metric'],
        message: 'metric orders 0.42 < min 0.5 (analysis: 120 requests, error rate 0%)',
      },
    ],
    [
      'above max fails an inconclusive check',
      inconclusive,
      values(0.9, 0.3),
      {
        result: 'Failed',
        broken: ['metric'],
        message: 'metric refunds 0.3 > max 0.1 (analysis: 3 requests < 50 minimum)',
      },
    ],
    [
      'a failed check keeps its own limits first',
      failed,
      values(0.1, 0),
      {
        result: 'Failed',
        broken: ['errorRate', 'metric'],
        message: 'error rate 4.2% > 1%; metric orders 0.1 < min 0.5',
      },
    ],
    [
      'no data makes a passing check inconclusive',
      passed,
      values(undefined, 0),
      { result: 'Inconclusive', message: 'metric orders: no data (analysis: 120 requests, error rate 0%)' },
    ],
    [
      'a metric without an answer is no data either',
      passed,
      [{ name: 'orders', value: 1 }],
      { result: 'Inconclusive', message: 'metric refunds: no answer (analysis: 120 requests, error rate 0%)' },
    ],
  ])('%s', (_, check, answers, expected) => {
    expect(withMetrics(check, specs, answers)).toEqual(expected);
  });
});
