import { isOpenRequest } from './handler.js';

describe('isOpenRequest', () => {
  it.each([
    ['GET', '/', true],
    ['HEAD', '/', true],
    ['POST', '/', false],
    ['GET', '/v1/models', false],
    ['GET', '/v1/models/', false],
    ['GET', '/v2/health/live', true],
    ['HEAD', '/v2/health/ready', true],
    ['GET', '/v2/models/digits/ready', true],
    ['GET', '/v2/models/digits/versions/2/ready', true],
    ['GET', '/v1/models/digits', true],
    ['POST', '/v2/health/ready', false],
    ['GET', '/v2', false],
    ['GET', '/v2/models/digits', false],
    ['POST', '/v2/models/digits/infer', false],
    ['POST', '/v1/models/digits:predict', false],
    ['GET', '/v1/models/digits:predict', false],
    ['GET', '/v2/health/ready/../../models/digits', false],
    [undefined, '/v2/health/live', false],
  ])('%s %s → %s', (method, path, open) => expect(isOpenRequest(method, path)).toBe(open));
});
