import { createHash } from 'node:crypto';
import { checkBearer, parseTokens } from './auth.js';

const digest = (t: string): Buffer => createHash('sha256').update(t).digest();

describe('parseTokens', () => {
  it('takes one token per line, skipping blanks and comments', () => {
    expect(parseTokens('# rotated 2026-11\nalpha\r\n\n  beta  \n#gamma\n')).toEqual(['alpha', 'beta']);
  });
});

describe('checkBearer', () => {
  const digests = [digest('alpha'), digest('beta')];
  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    ['Bearer alpha', 'ok'],
    ['bearer beta', 'ok'],
    ['Bearer  beta ', 'ok'],
    ['Bearer alph', 'invalid'],
    ['Bearer alphaX', 'invalid'],
    ['Basic YWxwaGE6', 'invalid'],
    ['alpha', 'invalid'],
    ['Bearer', 'invalid'],
  ])('%j → %s', (header, result) => expect(checkBearer(header, digests)).toBe(result));

  it('accepts nothing when there are no tokens', () => expect(checkBearer('Bearer alpha', [])).toBe('invalid'));
});
