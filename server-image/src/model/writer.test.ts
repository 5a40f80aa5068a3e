import { createHash, randomBytes } from 'node:crypto';
import { hashFor, inlineHash, OFF_THREAD_MIN_BYTES, workerHash, type StreamingHash } from './hash.js';

describe('streaming sha256', () => {
  // Chunks of odd sizes, crossing the worker's batch boundaries.
  const content = randomBytes(5 * 1024 * 1024 + 12345);
  const expected = createHash('sha256').update(content).digest('hex');
  const feed = async (hash: StreamingHash): Promise<string> => {
    for (let offset = 0, size = 1; offset < content.length; offset += size, size = (size * 7 + 13) % 300_000) {
      await hash.update(content.subarray(offset, offset + size));
    }
    return hash.digest();
  };

  test.each([
    ['on the calling thread', inlineHash],
    ['on a worker thread', workerHash],
  ])('%s gives the digest of the whole content, leaving the chunks intact', async (_where, make) => {
    const copy = Buffer.from(content);
    expect(await feed(make())).toBe(expected);
    expect(content.equals(copy)).toBe(true);
  });

  test('of nothing', async () => {
    const empty = createHash('sha256').digest('hex');
    expect(await inlineHash().digest()).toBe(empty);
    expect(await workerHash().digest()).toBe(empty);
  });

  test('hashes off the thread only objects large enough to pay for a thread', async () => {
    const small = hashFor(1000);
    const unknown = hashFor(undefined);
    const large = hashFor(OFF_THREAD_MIN_BYTES);
    expect(small.update(Buffer.alloc(1))).toBeUndefined();
    expect(unknown.update(Buffer.alloc(1))).toBeUndefined();
    await large.update(Buffer.alloc(1));
    expect(await large.digest()).toBe(await small.digest());
  });
});
