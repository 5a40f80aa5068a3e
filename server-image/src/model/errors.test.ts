import { causeMessage, errorCode, reasonForConnectionError, reasonForS3Error, reasonForStatus } from './errors.js';

describe('reasonForStatus', () => {
  test.each([
    [404, 'ModelNotFound'],
    [410, 'ModelNotFound'],
    [401, 'ModelAccessDenied'],
    [403, 'ModelAccessDenied'],
    [408, 'ModelSourceUnavailable'],
    [429, 'ModelSourceUnavailable'],
    [500, 'ModelSourceUnavailable'],
    [502, 'ModelSourceUnavailable'],
    [503, 'ModelSourceUnavailable'],
    [400, 'ModelSourceInvalid'],
    [301, 'ModelSourceInvalid'],
    [416, 'ModelSourceInvalid'],
  ])('HTTP %i is %s', (status, reason) => {
    expect(reasonForStatus(status)).toBe(reason);
  });
});

describe('reasonForS3Error', () => {
  test.each([
    [{ name: 'NoSuchKey', status: 404 }, 'ModelNotFound'],
    [{ name: 'NoSuchBucket', status: 404 }, 'ModelNotFound'],
    [{ name: 'NotFound', status: 404 }, 'ModelNotFound'],
    [{ name: 'AccessDenied', status: 403 }, 'ModelAccessDenied'],
    [{ name: 'InvalidAccessKeyId', status: 403 }, 'ModelAccessDenied'],
    [{ name: 'SignatureDoesNotMatch', status: 403 }, 'ModelAccessDenied'],
    [{ name: 'ExpiredToken', status: 400 }, 'ModelAccessDenied'],
    [{ name: 'PermanentRedirect', status: 301 }, 'ModelSourceInvalid'],
    [{ name: 'SlowDown', status: 503 }, 'ModelSourceUnavailable'],
    [{ name: 'InternalError', status: 500 }, 'ModelSourceUnavailable'],
    // A HEAD's error has no body: the SDK names it after the status.
    [{ name: '403', status: 403 }, 'ModelAccessDenied'],
    [{ name: 'Unknown', status: 502 }, 'ModelSourceUnavailable'],
    [{ name: 'Error', code: 'ECONNREFUSED' }, 'ModelSourceUnavailable'],
    [{ name: 'Error', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'ModelSourceInvalid'],
  ])('%j is %s', (error, reason) => {
    expect(reasonForS3Error(error)).toBe(reason);
  });
});

describe('reasonForConnectionError', () => {
  test.each([
    ['ECONNREFUSED', 'ModelSourceUnavailable'],
    ['ECONNRESET', 'ModelSourceUnavailable'],
    ['ENOTFOUND', 'ModelSourceUnavailable'],
    [undefined, 'ModelSourceUnavailable'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'ModelSourceInvalid'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'ModelSourceInvalid'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'ModelSourceInvalid'],
    ['CERT_HAS_EXPIRED', 'ModelSourceInvalid'],
  ])('%s is %s', (code, reason) => {
    expect(reasonForConnectionError(code)).toBe(reason);
  });
});

describe('causeMessage and errorCode', () => {
  test('say what the wrapped socket error says', () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const wrapped = new TypeError('fetch failed', { cause: socket });
    expect(causeMessage(wrapped)).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:9');
    expect(errorCode(wrapped)).toBe('ECONNREFUSED');
  });
  test('do not repeat a cause the message already quotes, and read errors of another realm', () => {
    const inner = new Error('socket hang up');
    expect(causeMessage(new Error('request failed: socket hang up', { cause: inner }))).toBe(
      'request failed: socket hang up',
    );
    expect(causeMessage({ message: 'from a worker', code: 'ECONNRESET' })).toBe('from a worker');
    expect(errorCode({ message: 'x', code: 'ECONNRESET' })).toBe('ECONNRESET');
    expect(causeMessage('plain text')).toBe('plain text');
  });
});
