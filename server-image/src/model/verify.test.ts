import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ModelLoadError } from '../dataplane/types.js';
import { checkDigest, checkSignature, normaliseSha256, sha256OfFile } from './verify.js';

const digest = createHash('sha256').update('model bytes').digest('hex');
const other = createHash('sha256').update('other bytes').digest('hex');

describe('normaliseSha256', () => {
  test('accepts upper case and a sha256: prefix', () => {
    expect(normaliseSha256(`sha256:${digest.toUpperCase()}`)).toBe(digest);
  });
  test.each(['abc', digest + '0', 'z'.repeat(64)])('refuses %p', (bad) => {
    expect(() => normaliseSha256(bad)).toThrow(/is not 64 hex digits/);
  });
});

describe('checkDigest', () => {
  test('passes a matching digest', () => {
    expect(() => checkDigest('m.onnx', digest, digest, false)).not.toThrow();
  });
  test('names the URI and both digests on a mismatch', () => {
    expect(() => checkDigest('m.onnx', digest, other, false)).toThrow(ModelLoadError);
    expect(() => checkDigest('m.onnx', digest, other, false)).toThrow(
      `model m.onnx: sha256 mismatch: expected ${other}, got ${digest}`,
    );
  });
  test('refuses a missing digest unless unverified models are allowed', () => {
    expect(() => checkDigest('m.onnx', digest, undefined, false)).toThrow(
      /no sha256 given; refusing to serve an unverified model/,
    );
    expect(() => checkDigest('m.onnx', digest, undefined, true)).not.toThrow();
  });
  test('still checks a given digest when unverified models are allowed', () => {
    expect(() => checkDigest('m.onnx', digest, other, true)).toThrow(/sha256 mismatch/);
  });
});

describe('sha256OfFile and checkSignature', () => {
  let dir: string;
  const keys = generateKeyPairSync('ed25519');
  const strangerKeys = generateKeyPairSync('ed25519');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const files = { sig: '', pub: '', strangerPub: '', rsaPub: '', shortSig: '' };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'modelship-verify-'));
    files.sig = path.join(dir, 'model.sig');
    files.pub = path.join(dir, 'key.pem');
    files.strangerPub = path.join(dir, 'stranger.pem');
    files.rsaPub = path.join(dir, 'rsa.pem');
    files.shortSig = path.join(dir, 'short.sig');
    await writeFile(files.sig, sign(null, Buffer.from(digest), keys.privateKey).toString('base64') + '\n');
    await writeFile(files.pub, keys.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(files.strangerPub, strangerKeys.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(files.rsaPub, rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(files.shortSig, Buffer.alloc(10).toString('base64'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test('sha256OfFile hashes the content', async () => {
    const file = path.join(dir, 'm.bin');
    await writeFile(file, 'model bytes');
    expect(await sha256OfFile(file)).toBe(digest);
  });

  test('accepts a good signature over the hex digest', async () => {
    await expect(checkSignature('m.onnx', digest, files.sig, files.pub)).resolves.toBeUndefined();
  });

  test.each([
    [
      'a signature over another digest',
      () => checkSignature('m.onnx', other, files.sig, files.pub),
      /signature in .* does not match sha256/,
    ],
    [
      'a signature from another key',
      () => checkSignature('m.onnx', digest, files.sig, files.strangerPub),
      /does not match/,
    ],
    [
      'a key that is not ed25519',
      () => checkSignature('m.onnx', digest, files.sig, files.rsaPub),
      /is rsa, not ed25519/,
    ],
    [
      'a signature that is not 64 bytes',
      () => checkSignature('m.onnx', digest, files.shortSig, files.pub),
      /expected 64 bytes of base64, got 10/,
    ],
    [
      'a missing signature file',
      () => checkSignature('m.onnx', digest, path.join(dir, 'nope.sig'), files.pub),
      /read signature .*nope.sig/,
    ],
    [
      'a missing key file',
      () => checkSignature('m.onnx', digest, files.sig, path.join(dir, 'nope.pem')),
      /read public key .*nope.pem/,
    ],
  ])('refuses %s', async (_name, check, message) => {
    const result = check();
    await expect(result).rejects.toThrow(ModelLoadError);
    await expect(result).rejects.toThrow(message);
  });
});
