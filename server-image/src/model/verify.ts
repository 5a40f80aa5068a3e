/**
 * Model integrity: the sha256 the user expects, and an optional Ed25519 signature over it.
 * Both run before any onnxruntime session sees the file.
 */
import { createHash, createPublicKey, timingSafeEqual, verify } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ModelLoadError, ModelVerificationError } from '../dataplane/types.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The expected digest in canonical form (lowercase hex), or a ModelLoadError saying what is wrong. */
export function normaliseSha256(sha256: string): string {
  const hex = sha256
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, '');
  if (!SHA256_HEX.test(hex)) throw new ModelLoadError(`expected sha256 "${sha256}" is not 64 hex digits`);
  return hex;
}

/** The lowercase hex sha256 of a file, read as a stream. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Check the file's digest against the expected one. With no expected digest this refuses, unless
 * `allowUnverified`. `uri` (already redacted) names the model in the error.
 */
export function checkDigest(uri: string, actual: string, expected: string | undefined, allowUnverified: boolean): void {
  if (expected === undefined || expected === '') {
    if (allowUnverified) return;
    throw new ModelVerificationError(
      `model ${uri}: no sha256 given; refusing to serve an unverified model (sha256 is ${actual})`,
    );
  }
  const want = normaliseSha256(expected);
  if (!timingSafeEqual(Buffer.from(want), Buffer.from(actual))) {
    throw new ModelVerificationError(`model ${uri}: sha256 mismatch: expected ${want}, got ${actual}`);
  }
}

/**
 * Verify an Ed25519 signature over the hex digest string. The signature file holds the raw 64-byte
 * signature in base64; the key file holds a PEM public key.
 */
export async function checkSignature(
  uri: string,
  digestHex: string,
  signaturePath: string,
  publicKeyPath: string,
): Promise<void> {
  const fail = (why: string): ModelLoadError =>
    new ModelVerificationError(`model ${uri}: signature check failed: ${why}`);
  let key;
  try {
    key = createPublicKey(await readFile(publicKeyPath, 'utf8'));
  } catch (err) {
    throw fail(`read public key ${publicKeyPath}: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw fail(`public key ${publicKeyPath} is ${key.asymmetricKeyType ?? 'not an asymmetric key'}, not ed25519`);
  }
  let signature: Buffer;
  try {
    const text = (await readFile(signaturePath, 'utf8')).trim();
    signature = Buffer.from(text, 'base64');
    if (signature.length !== 64) {
      throw new Error(`expected 64 bytes of base64, got ${signature.length} bytes`);
    }
  } catch (err) {
    throw fail(`read signature ${signaturePath}: ${(err as Error).message}`);
  }
  if (!verify(null, Buffer.from(digestHex, 'utf8'), key, signature)) {
    throw fail(`signature in ${signaturePath} does not match sha256 ${digestHex} under key ${publicKeyPath}`);
  }
}
