/**
 * The model file inside an image layer (a tar, possibly gzip-compressed), streamed out of the layer's blob as it
 * arrives: nothing is unpacked to disk, and no npm tar library is needed for reading one regular file. The blob's
 * bytes are hashed on the way and must match the layer digest the manifest gave, so an @digest URI still pins the
 * model through manifest -> layer -> file.
 */
import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ModelLoadError } from '../dataplane/types.js';

const BLOCK = 512;
/** Pax and GNU long-name records are metadata, never this large in an image layer. */
const MAX_METADATA_BYTES = 1024 * 1024;

/** One tar header's fields that matter here. */
interface TarHeader {
  name: string;
  size: number;
  /** `0` (or NUL) regular file, `5` directory, `x` pax, `g` pax global, `L` GNU long name... */
  type: string;
}

function text(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
}

/** A numeric field: octal text, or GNU's base-256 (high bit set) for sizes past 8 GiB. */
function number(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if ((field[0] & 0x80) !== 0) {
    let value = field[0] & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + field[i];
    return value;
  }
  const digits = text(block, offset, length).trim();
  return digits === '' ? 0 : parseInt(digits, 8);
}

/** The header in a 512-byte block, or undefined for an end-of-archive (zero) block; throws if it is no tar header. */
export function parseTarHeader(block: Buffer): TarHeader | undefined {
  if (block.every((b) => b === 0)) return undefined;
  // The checksum is the byte sum of the header with its own field counted as spaces.
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  const recorded = number(block, 148, 8);
  if (recorded !== sum || Number.isNaN(recorded)) throw new Error('not a tar archive (a header checksum is wrong)');
  const name = text(block, 0, 100);
  const prefix = text(block, 257, 6) === 'ustar' ? text(block, 345, 155) : '';
  return {
    name: prefix === '' ? name : `${prefix}/${name}`,
    size: number(block, 124, 12),
    type: String.fromCharCode(block[156] || 0x30),
  };
}

/** The `path` and `size` of pax extended header records (`<length> <key>=<value>\n`...). */
export function parsePax(data: Buffer): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = parseInt(data.subarray(at, space).toString('utf8'), 10);
    if (space < 0 || !(length > 0)) break;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    if (key === 'size') out.size = Number(value);
    at += length;
  }
  return out;
}

/**
 * A Transform from tar bytes to the bytes of the archive's one regular `.onnx` file. Fails (ModelSourceInvalid)
 * when the archive has no such file or several, or is not a tar; `what` begins each message.
 */
class TarModelExtractor extends Transform {
  /** A header's bytes so far. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private state: 'header' | 'data' | 'end' = 'header';
  /** What to do with the current entry's data: stream it out (the model), keep it (metadata), or drop it. */
  private mode: 'emit' | 'collect' | 'skip' = 'skip';
  private remaining = 0;
  private padding = 0;
  private collecting: TarHeader | undefined;
  private collected: Buffer[] = [];
  private pax: { path?: string; size?: number } = {};
  private longName: string | undefined;
  private found: string | undefined;
  private readonly files: string[] = [];

  constructor(private readonly what: string) {
    super();
  }

  private fail(why: string): ModelLoadError {
    return new ModelLoadError(`${this.what}: ${why}`, 'ModelSourceInvalid');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.consume(chunk);
      done();
    } catch (err) {
      done(err instanceof ModelLoadError ? err : this.fail((err as Error).message));
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.found === undefined) {
      const listed = this.files.length === 0 ? 'no files' : this.files.slice(0, 20).join(', ');
      done(this.fail(`the layer has no .onnx file (it holds ${listed}); a ModelCar image should COPY the model last`));
    } else if (this.state === 'data' || this.pendingBytes > 0) {
      done(this.fail('the tar archive ends inside an entry'));
    } else {
      done();
    }
  }

  // zlib's errors name a format problem, not the object: say which object and what was expected.
  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    const zlib = err !== null && /^Z_/.test((err as NodeJS.ErrnoException).code ?? '');
    done(zlib ? this.fail(`the layer is not gzip-compressed as its media type says (${err.message})`) : err);
  }

  private consume(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0 && this.state !== 'end') {
      if (this.state === 'header') {
        const part = data.subarray(0, BLOCK - this.pendingBytes);
        this.pending.push(part);
        this.pendingBytes += part.length;
        data = data.subarray(part.length);
        if (this.pendingBytes === BLOCK) {
          const block = Buffer.concat(this.pending);
          this.pending = [];
          this.pendingBytes = 0;
          this.header(block);
        }
        continue;
      }
      if (this.remaining > 0) {
        const part = data.subarray(0, this.remaining);
        if (this.mode === 'emit') this.push(part);
        if (this.mode === 'collect') this.collected.push(part);
        this.remaining -= part.length;
        data = data.subarray(part.length);
        if (this.remaining === 0) this.endEntry();
      } else {
        const skipped = Math.min(this.padding, data.length);
        this.padding -= skipped;
        data = data.subarray(skipped);
      }
      if (this.remaining === 0 && this.padding === 0) this.state = 'header';
    }
  }

  private header(block: Buffer): void {
    const parsed = parseTarHeader(block);
    if (parsed === undefined) {
      this.state = 'end';
      return;
    }
    const header = { ...parsed };
    const metadata = header.type === 'x' || header.type === 'L';
    if (!metadata && header.type !== 'g') {
      header.name = this.pax.path ?? this.longName ?? header.name;
      header.size = this.pax.size ?? header.size;
      this.pax = {};
      this.longName = undefined;
    }
    if (metadata && header.size > MAX_METADATA_BYTES) {
      throw new Error(`not a layer tar (a ${header.type} record of ${header.size} bytes)`);
    }
    const regular = header.type === '0' || header.type === '7';
    if (regular) this.files.push(header.name);
    const model = regular && header.name.toLowerCase().endsWith('.onnx');
    if (model && this.found !== undefined) {
      throw this.fail(`the layer has several .onnx files (${this.found}, ${header.name}): one model per image`);
    }
    if (model) this.found = header.name;
    this.mode = model ? 'emit' : metadata ? 'collect' : 'skip';
    this.collecting = metadata ? header : undefined;
    this.collected = [];
    this.remaining = header.size;
    this.padding = (BLOCK - (header.size % BLOCK)) % BLOCK;
    this.state = 'data';
    if (this.remaining === 0) {
      this.endEntry();
      this.state = 'header';
    }
  }

  /** An entry's data is complete: a collected pax record or long name applies to the next header. */
  private endEntry(): void {
    if (this.collecting === undefined) return;
    const data = Buffer.concat(this.collected);
    if (this.collecting.type === 'x') this.pax = parsePax(data);
    else this.longName = text(data, 0, data.length);
    this.collecting = undefined;
    this.collected = [];
  }
}

/**
 * The model file's bytes from a layer blob: hashed as they arrive (ModelDigestMismatch at the end unless the sha256
 * is `layerDigest`), gunzipped for a `gzip` layer, and the tar's one regular `.onnx` file streamed out.
 * Failures are ModelLoadErrors whose message begins with `what`.
 */
export function extractModel(blob: Readable, archive: 'tar' | 'gzip', layerDigest: string, what: string): Readable {
  const hash = createHash('sha256');
  const verify = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      const actual = `sha256:${hash.digest('hex')}`;
      done(
        actual === layerDigest
          ? null
          : new ModelLoadError(`${what}: the layer's bytes are ${actual}, not its digest`, 'ModelDigestMismatch'),
      );
    },
  });
  const extractor = new TarModelExtractor(what);
  // The last stream carries any failure to the reader; the callback only completes the pipeline's contract.
  const done = (): void => undefined;
  return archive === 'gzip'
    ? pipeline(blob, verify, createGunzip(), extractor, done)
    : pipeline(blob, verify, extractor, done);
}
