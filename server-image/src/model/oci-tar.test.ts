import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { extractModel, parseTarHeader } from './oci-tar.js';

const MODEL = readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/models/digits.onnx'),
);
const LONG_DIR = `models/${'deep-directory-name/'.repeat(6)}`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'modelship-oci-tar-'));
  mkdirSync(path.join(dir, LONG_DIR), { recursive: true });
  writeFileSync(path.join(dir, 'models/README'), 'a model\n');
  writeFileSync(path.join(dir, 'models/digits.onnx'), MODEL);
  writeFileSync(path.join(dir, LONG_DIR, 'digits.onnx'), MODEL);
  writeFileSync(path.join(dir, 'models/other.ONNX'), 'not this one');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A tar of `files` (relative to dir) made by GNU tar in `format`. */
function tar(format: string, ...files: string[]): Buffer {
  return execFileSync('tar', ['-C', dir, `--format=${format}`, '--owner=0', '--group=0', '-cf', '-', ...files]);
}

const digestOf = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** The blob in chunks of `size` bytes, so that headers and data straddle chunk boundaries. */
function chunked(bytes: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function failure(stream: Readable): Promise<{ reason?: string; message: string }> {
  try {
    await read(stream);
  } catch (err) {
    const e = err as Error & { reason?: string };
    return { reason: e.reason, message: e.message };
  }
  throw new Error('expected a failure');
}

describe('extractModel streams the one .onnx file out of a layer', () => {
  test.each([
    ['ustar', 'ustar', ['models/README', 'models/digits.onnx']],
    ['pax, a path longer than 100 characters', 'pax', ['models/README', `${LONG_DIR}digits.onnx`]],
    ['gnu, a long name record', 'gnu', ['models/README', `${LONG_DIR}digits.onnx`]],
  ])('%s', async (_, format, files) => {
    const archive = tar(format, ...files);
    for (const size of [archive.length, 7, 4096]) {
      expect(await read(extractModel(chunked(archive, size), 'tar', digestOf(archive), 'layer'))).toEqual(MODEL);
    }
  });

  test('gzip-compressed, as image layers are', async () => {
    const layer = gzipSync(tar('pax', 'models/README', 'models/digits.onnx'));
    expect(await read(extractModel(chunked(layer, 1000), 'gzip', digestOf(layer), 'layer'))).toEqual(MODEL);
  });
});

describe('extractModel fails, naming the object', () => {
  const what = 'get blob sha256:ab of oci://r.example/m:v1';

  test('a layer whose bytes are not its digest: ModelDigestMismatch', async () => {
    const archive = tar('ustar', 'models/digits.onnx');
    const wrong = `sha256:${'0'.repeat(64)}`;
    expect(await failure(extractModel(chunked(archive, 4096), 'tar', wrong, what))).toEqual({
      reason: 'ModelDigestMismatch',
      message: `${what}: the layer's bytes are ${digestOf(archive)}, not its digest`,
    });
  });

  test.each([
    [
      'no .onnx file',
      () => tar('ustar', 'models/README'),
      'the layer has no .onnx file (it holds models/README); a ModelCar image should COPY the model last',
    ],
    [
      'several',
      () => tar('ustar', 'models/digits.onnx', 'models/other.ONNX'),
      'the layer has several .onnx files (models/digits.onnx, models/other.ONNX): one model per image',
    ],
    ['not a tar', () => Buffer.alloc(2048, 'x'), 'not a tar archive (a header checksum is wrong)'],
    [
      'a truncated tar',
      () => tar('ustar', 'models/digits.onnx').subarray(0, 1500),
      'the tar archive ends inside an entry',
    ],
  ])('%s: ModelSourceInvalid', async (_, make, why) => {
    const archive = make();
    expect(await failure(extractModel(chunked(archive, 512), 'tar', digestOf(archive), what))).toEqual({
      reason: 'ModelSourceInvalid',
      message: `${what}: ${why}`,
    });
  });

  test('a layer that is not gzip although its media type says so: ModelSourceInvalid', async () => {
    const archive = tar('ustar', 'models/digits.onnx');
    const failed = await failure(extractModel(chunked(archive, 4096), 'gzip', digestOf(archive), what));
    expect(failed.reason).toBe('ModelSourceInvalid');
    expect(failed.message).toMatch(`${what}: the layer is not gzip-compressed as its media type says (`);
  });
});

test('parseTarHeader reads a GNU base-256 size (files past 8 GiB)', () => {
  const block = Buffer.alloc(512);
  block.write('models/big.onnx', 0);
  const size = 10 * 1024 ** 3;
  block[124] = 0x80;
  block.writeUIntBE(size, 12 - 6 + 124, 6);
  block.write('0', 156);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  expect(parseTarHeader(block)).toEqual({ name: 'models/big.onnx', size, type: '0' });
});
