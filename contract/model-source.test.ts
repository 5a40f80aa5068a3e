import { MODEL_FAILURE_REASONS, formatModelFailure, parseModelFailure } from './model-source.js';

describe('model failure termination messages', () => {
  it.each(MODEL_FAILURE_REASONS)('reads back %s with its message, newlines included', (reason) => {
    const message = 'fetch model s3://models/digits.onnx: no such key\n(after 3 attempts)';
    expect(parseModelFailure(formatModelFailure(reason, message))).toEqual({ reason, message });
  });

  it.each([
    ['a message without a reason', 'model load failed: boom'],
    ['an unknown reason', 'ModelExploded: boom'],
    ['log lines Kubernetes shows for a killed container', '{"level":"info","msg":"listening","sha256":"6b6a5e14"}'],
    ['empty', ''],
  ])('is undefined for %s', (_what, text) => {
    expect(parseModelFailure(text)).toBeUndefined();
  });
});
