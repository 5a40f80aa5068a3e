import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inlineWriter, OFF_THREAD_MIN_BYTES, startWriter, WriteError, type HashingWriter } from './writer.js';

describe('hashing writers', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'modelship-writer-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  // Chunks of odd sizes, crossing the worker's batch boundaries, each reused (overwritten) once written.
  const content = randomBytes(5 * 1024 * 1024 + 12345);
  const expected = createHash('sha256').update(content).digest('hex');
  const feed = async (writer: HashingWriter): Promise<string> => {
    const reused = Buffer.alloc(300_000);
    for (let offset = 0, size = 1; offset < content.length; offset += size, size = (size * 7 + 13) % 300_000) {
      const chunk = reused.subarray(0, Math.min(size, content.length - offset));
      content.copy(chunk, 0, offset);
      await writer.write(chunk);
      chunk.fill(0xee);
    }
    return writer.end();
  };
  const onWorker = (file: string) => startWriter().choose(OFF_THREAD_MIN_BYTES, file);

  test.each([
    ['on the calling thread', inlineWriter],
    ['on a worker thread', onWorker],
  ])('%s writes the whole content to the file and gives its digest', async (_where, make) => {
    const file = path.join(dir, 'model');
    expect(await feed(await make(file))).toBe(expected);
    expect((await readFile(file)).equals(content)).toBe(true);
  });

  test.each([
    ['on the calling thread', inlineWriter],
    ['on a worker thread', onWorker],
  ])('%s writes nothing of nothing', async (_where, make) => {
    const file = path.join(dir, 'empty');
    expect(await (await make(file)).end()).toBe(createHash('sha256').digest('hex'));
    expect((await readFile(file)).byteLength).toBe(0);
  });

  test.each([
    ['on the calling thread', inlineWriter],
    ['on a worker thread', onWorker],
  ])('%s refuses a file that exists, naming it', async (_where, make) => {
    const file = path.join(dir, 'there');
    await writeFile(file, 'kept');
    const err = await make(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WriteError);
    expect((err as Error).message).toMatch(/^open .*there: EEXIST/);
    expect(await readFile(file, 'utf8')).toBe('kept');
  });

  test('on a worker thread, takes views of shared slabs as they are, between copied chunks, in order', async () => {
    // As http1.ts hands them on: runs of reads into 4 MiB shared slabs, each slab read into once.
    const slabs = [0, 1, 2].map(() => Buffer.from(new SharedArrayBuffer(4 * 1024 * 1024)));
    const chunks: Buffer[] = [];
    let at = 0;
    for (const [i, slab] of slabs.entries()) {
      for (let used = 0, size = 70_000 + i; used + size <= slab.length && at + size <= content.length;) {
        const view = slab.subarray(used, used + size);
        content.copy(view, 0, at);
        chunks.push(view);
        used += size;
        at += size;
        size = (size * 3) % 500_000 || 1;
      }
      // A chunk that is not shared, between slabs.
      const plain = Buffer.from(content.subarray(at, at + 1000));
      chunks.push(plain);
      at += plain.length;
    }
    chunks.push(Buffer.from(content.subarray(at)));
    const file = path.join(dir, 'slabs');
    const writer = await onWorker(file);
    for (const chunk of chunks) await writer.write(chunk);
    expect(await writer.end()).toBe(expected);
    expect((await readFile(file)).equals(content)).toBe(true);
  });

  test('works on a worker only for objects large enough to pay for a thread', async () => {
    const sizes = [1000, undefined, OFF_THREAD_MIN_BYTES];
    const digests = [];
    for (const [i, bytes] of sizes.entries()) {
      const writer = await startWriter().choose(bytes, path.join(dir, `m${i}`));
      const behind = writer.write(Buffer.alloc(1));
      // Inline writes say when they are on disk; the worker's take the chunk at once.
      expect(behind === undefined).toBe(bytes === OFF_THREAD_MIN_BYTES);
      await behind;
      digests.push(await writer.end());
    }
    expect(new Set(digests).size).toBe(1);
  });
});
