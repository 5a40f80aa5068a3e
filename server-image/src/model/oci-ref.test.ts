import { ModelLoadError } from '../dataplane/types.js';
import { formatOciReference, manifestReference, parseOciReference, readOciReference } from './oci-ref.js';

const HEX = 'a'.repeat(64);

describe('parseOciReference accepts', () => {
  test.each([
    [
      'oci://registry.example/models/digits:v1',
      { registry: 'registry.example', repository: 'models/digits', tag: 'v1' },
    ],
    ['oci://127.0.0.1:5000/digits:1.0.0-rc_1', { registry: '127.0.0.1:5000', repository: 'digits', tag: '1.0.0-rc_1' }],
    ['oci://localhost:5000/a/b/c:latest', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'latest' }],
    [`oci://ghcr.io/org/m@sha256:${HEX}`, { registry: 'ghcr.io', repository: 'org/m', digest: `sha256:${HEX}` }],
    [
      `oci://r.example/m:v2@sha256:${HEX}`,
      { registry: 'r.example', repository: 'm', tag: 'v2', digest: `sha256:${HEX}` },
    ],
    ['oci://[::1]:5000/m:v1', { registry: '[::1]:5000', repository: 'm', tag: 'v1' }],
    ['OCI://r.example/a.b__c-d---e/f_g:V1', { registry: 'r.example', repository: 'a.b__c-d---e/f_g', tag: 'V1' }],
    [`oci://r.example/m:_${'x'.repeat(127)}`, { registry: 'r.example', repository: 'm', tag: `_${'x'.repeat(127)}` }],
  ])('%s', (uri, expected) => {
    expect(parseOciReference(uri)).toEqual(expected);
  });
});

describe('parseOciReference refuses, naming the URI and what is wrong', () => {
  const expected = 'oci://<registry>[:<port>]/<repository>(:<tag>|@sha256:<64 hex>)';
  test.each([
    ['s3://bucket/m.onnx', `model URI s3://bucket/m.onnx: expected ${expected}`],
    ['oci://', `model URI oci://: registry "" is not a host[:port] (expected ${expected})`],
    ['oci://r.example', `model URI oci://r.example: no repository after the registry (expected ${expected})`],
    ['oci://r.example/:v1', `model URI oci://r.example/:v1: no repository after the registry (expected ${expected})`],
    [
      'oci://r_x.example/m:v1',
      `model URI oci://r_x.example/m:v1: registry "r_x.example" is not a host[:port] (expected ${expected})`,
    ],
    [
      'oci://r.example:99999/m:v1',
      `model URI oci://r.example:99999/m:v1: registry "r.example:99999" is not a host[:port] (expected ${expected})`,
    ],
    [
      'oci://r.example/Models/digits:v1',
      'model URI oci://r.example/Models/digits:v1: repository "Models/digits" is not valid: path components of ' +
        'lowercase letters and digits, separated inside by ".", "_", "__" or "-", joined by "/"',
    ],
    [
      'oci://r.example/models//digits:v1',
      'model URI oci://r.example/models//digits:v1: repository "models//digits" is not valid: path components of ' +
        'lowercase letters and digits, separated inside by ".", "_", "__" or "-", joined by "/"',
    ],
    [
      'oci://r.example/m:.v1',
      'model URI oci://r.example/m:.v1: tag ".v1" is not valid: 1 to 128 letters, digits, "_", "." or "-", ' +
        'not starting with "." or "-"',
    ],
    [
      'oci://r.example/m:',
      'model URI oci://r.example/m:: tag "" is not valid: 1 to 128 letters, digits, "_", "." or "-", ' +
        'not starting with "." or "-"',
    ],
    [
      `oci://r.example/m@sha512:${HEX}${HEX}`,
      `model URI oci://r.example/m@sha512:${HEX}${HEX}: digest "sha512:${HEX}${HEX}" is not valid: ` +
        'expected sha256:<64 lowercase hex> (the only algorithm supported)',
    ],
    [
      `oci://r.example/m@sha256:${'A'.repeat(64)}`,
      `model URI oci://r.example/m@sha256:${'A'.repeat(64)}: digest "sha256:${'A'.repeat(64)}" is not valid: ` +
        'expected sha256:<64 lowercase hex> (the only algorithm supported)',
    ],
    [
      'oci://r.example/models/digits',
      'model URI oci://r.example/models/digits: name a tag (:<tag>) or a digest (@sha256:<64 hex>): ' +
        'a model version must be explicit, there is no default "latest"',
    ],
    [
      'oci://r.example/m:v1?token=s3cret',
      `model URI oci://r.example/m:v1 (query/fragment redacted): a query or fragment is not allowed (expected ${expected})`,
    ],
    [
      'oci://user:s3cret@r.example/m:v1',
      'model URI oci://(credentials redacted)@r.example/m:v1: credentials do not belong in the URI: ' +
        'name a dockerconfigjson Secret in storage.secretRef',
    ],
  ])('%s', (uri, message) => {
    let thrown: unknown;
    try {
      parseOciReference(uri);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ModelLoadError);
    expect(thrown).toMatchObject({ message, reason: 'ModelSourceInvalid' });
  });

  test('a name longer than 255 characters', () => {
    const uri = `oci://r.example/${'m'.repeat(250)}:v1`;
    expect(() => parseOciReference(uri)).toThrow('registry and repository together are longer than 255 characters');
  });
});

test('formatOciReference and manifestReference: the digest is what is fetched', () => {
  const ref = parseOciReference(`oci://r.example:5000/m:v2@sha256:${HEX}`);
  expect(formatOciReference(ref)).toBe(`oci://r.example:5000/m:v2@sha256:${HEX}`);
  expect(manifestReference(ref)).toBe(`sha256:${HEX}`);
  expect(manifestReference(parseOciReference('oci://r.example/m:v2'))).toBe('v2');
});

test('readOciReference gives the same answer without throwing, for validation outside the server', () => {
  expect(readOciReference('oci://r.example/m:v1')).toEqual({ registry: 'r.example', repository: 'm', tag: 'v1' });
  expect(readOciReference('oci://r.example/m')).toEqual({
    problem:
      'model URI oci://r.example/m: name a tag (:<tag>) or a digest (@sha256:<64 hex>): ' +
      'a model version must be explicit, there is no default "latest"',
  });
});
