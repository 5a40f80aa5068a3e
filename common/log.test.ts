import { createLogger, formatLogLine } from './log.js';

describe('formatLogLine', () => {
  it('writes one JSON object with time, level, msg and fields; errors and bigints made readable', () => {
    const line = formatLogLine('warn', 'worker exited', { code: 3, err: new TypeError('boom'), n: 5n }, new Date(0));
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'warn',
      msg: 'worker exited',
      code: 3,
      err: 'boom',
      n: '5',
    });
  });

  it('writes an error as its message and cause', () => {
    const cause = new Error('connect ECONNREFUSED');
    const line = formatLogLine(
      'error',
      'apply failed',
      { key: 'ml/digits', error: new Error('apply Deployment ml/digits-abc: boom', { cause }) },
      new Date(Date.UTC(2026, 0, 1)),
    );
    expect(JSON.parse(line)).toEqual({
      time: '2026-01-01T00:00:00.000Z',
      level: 'error',
      msg: 'apply failed',
      key: 'ml/digits',
      error: 'apply Deployment ml/digits-abc: boom (cause: connect ECONNREFUSED)',
    });
  });
});

describe('createLogger', () => {
  it('drops events below its level and carries child fields', () => {
    const lines: string[] = [];
    const log = createLogger('info', (l) => lines.push(l)).child({ model: 'tiny' });
    log.debug('hidden');
    log.info('shown', { port: 1 });
    expect(log.enabled('debug')).toBe(false);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ level: 'info', msg: 'shown', model: 'tiny', port: 1 }),
    ]);
  });

  it('never throws on an unserialisable field', () => {
    const lines: string[] = [];
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    createLogger('debug', (l) => lines.push(l)).error('odd', { cyclic });
    expect(JSON.parse(lines[0])).toMatchObject({ msg: 'odd', logError: expect.stringMatching(/circular/i) });
  });
});
