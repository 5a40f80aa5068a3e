import { ACTION_ANNOTATION, actionValue, parseAction, pendingAction } from './canary-action.js';

describe('parseAction', () => {
  it.each([
    ['promote@1', { verb: 'promote', nonce: '1', raw: 'promote@1' }],
    [
      'rollback:0123456789@2026-11-21T0605Z',
      {
        verb: 'rollback',
        revision: '0123456789',
        nonce: '2026-11-21T0605Z',
        raw: 'rollback:0123456789@2026-11-21T0605Z',
      },
    ],
    [' abort@git.3f2a1 ', { verb: 'abort', nonce: 'git.3f2a1', raw: 'abort@git.3f2a1' }],
    ['retry@x_y-z', { verb: 'retry', nonce: 'x_y-z', raw: 'retry@x_y-z' }],
  ])('%p', (raw, action) => {
    expect(parseAction(raw)).toEqual({ action });
  });

  it.each([
    'promote',
    'deploy@1',
    'promote@',
    'promote:XYZ@1',
    'promote:abc@1',
    `promote@${'n'.repeat(64)}`,
    'promote@a b',
  ])('rejects %p naming the annotation and the format', (raw) => {
    const result = parseAction(raw);
    expect(result).toEqual({
      error: expect.stringContaining(
        `annotation ${ACTION_ANNOTATION}=${JSON.stringify(raw)}: expected <verb>[:<revision>]@<nonce>`,
      ),
    });
  });
});

describe('pendingAction', () => {
  it('is idempotent: a value already handled is not handled again; a new nonce is', () => {
    const annotations = { [ACTION_ANNOTATION]: 'rollback@1', unrelated: 'x' };
    expect(pendingAction(annotations, undefined)).toEqual({
      action: { verb: 'rollback', nonce: '1', raw: 'rollback@1' },
    });
    expect(pendingAction(annotations, 'rollback@1')).toBeUndefined();
    expect(pendingAction({ [ACTION_ANNOTATION]: 'rollback@2' }, 'rollback@1')).toMatchObject({
      action: { nonce: '2' },
    });
  });

  it('is nothing without the annotation, and an error for a malformed value not yet reported', () => {
    expect(pendingAction(undefined, undefined)).toBeUndefined();
    expect(pendingAction({ [ACTION_ANNOTATION]: '' }, undefined)).toBeUndefined();
    expect(pendingAction({ [ACTION_ANNOTATION]: 'oops' }, undefined)).toHaveProperty('error');
    expect(pendingAction({ [ACTION_ANNOTATION]: 'oops' }, 'oops')).toBeUndefined();
  });
});

describe('actionValue', () => {
  it('writes values parseAction reads back, with the time as nonce', () => {
    const value = actionValue('rollback', new Date('2026-11-21T06:05:07.123Z'), '0123456789');
    expect(value).toBe('rollback:0123456789@2026-11-21T060507Z');
    expect(parseAction(value)).toEqual({
      action: { verb: 'rollback', revision: '0123456789', nonce: '2026-11-21T060507Z', raw: value },
    });
    expect(actionValue('promote', new Date('2026-11-21T06:05:07.000Z'))).toBe('promote@2026-11-21T060507Z');
  });
});
