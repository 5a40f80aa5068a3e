import { createLogger } from './log.js';

describe('createLogger', () => {
  it('writes one JSON object per line at or above the level, errors as their message and cause', () => {
    const lines: string[] = [];
    const log = createLogger(
      'info',
      (line) => lines.push(line),
      () => new Date(Date.UTC(2026, 0, 1)),
    );
    log.debug('hidden');
    const cause = new Error('connect ECONNREFUSED');
    log.error('apply failed', {
      key: 'ml/digits',
      error: new Error('apply Deployment ml/digits-abc: boom', { cause }),
    });
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        time: '2026-01-01T00:00:00.000Z',
        level: 'error',
        msg: 'apply failed',
        key: 'ml/digits',
        error: 'apply Deployment ml/digits-abc: boom (cause: connect ECONNREFUSED)',
      },
    ]);
  });
});
