import { FETCH_FAILURE_REASONS, formatFetchFailure, parseFetchFailure } from './model-source.js';

describe('fetch failure termination messages', () => {
  it.each(FETCH_FAILURE_REASONS)('reads back %s with its message, newlines included', (reason) => {
    const message = 'fetch model s3://models/digits.onnx: no such key\n(after 3 attempts)';
    expect(parseFetchFailure(formatFetchFailure(reason, message))).toEqual({ reason, message });
  });

  it.each([
    ['a message without a reason', 'model load failed: boom'],
    ['an unknown reason', 'ModelExploded: boom'],
    ['empty', ''],
  ])('is undefined for %s', (_what, text) => {
    expect(parseFetchFailure(text)).toBeUndefined();
  });
});
