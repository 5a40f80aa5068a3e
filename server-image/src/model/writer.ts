/**
 * Where a download's bytes go as they stream: into a new file, and through a sha256, in order. For a
 * large object the thread that reads the socket only gathers the chunks into pieces of about 1 MiB
 * (runs of the shared slabs http1.ts reads into, taken as they are; other chunks copied into
 * batches of its own); each piece is hashed on a worker thread and written from libuv's threadpool
 * at its place in the file at the same time. So a download runs as fast as the store sends, not as
 * fast as one thread can read, hash and write: the stream and fs machinery of a write per chunk cost
 * the reading thread more than the reading itself, and hashing and writing one after the other on
 * one worker made that worker the bottleneck (bench-sources).
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

/** A file being written and hashed, chunk by chunk. */
export interface HashingWriter {
  /**
   * Adds a chunk. The caller may reuse it once the call returns, unless it is a view of a
   * SharedArrayBuffer: such a chunk (a slab http1.ts reads into) is taken as it is, with no copy, and
   * must not change afterwards. Resolves when more may be added (undefined: at once); rejects with a
   * {@link WriteError}.
   */
  write(chunk: Buffer): Promise<void> | undefined;
  /** Every byte added is written and the file closed: resolves with the hex sha256 of them all. */
  end(): Promise<string>;
  /** Gives up: stops the thread, if any, and closes the file (the caller removes it). */
  abort(): Promise<void>;
}

/** The file could not be written (the cache's disk, not the store). */
export class WriteError extends Error {}

/** Objects at least this large are hashed and written on a worker thread (starting one costs ~20 ms). */
export const OFF_THREAD_MIN_BYTES = 16 * 1024 * 1024;
/** Bytes of a piece: few messages and writes, and a piece is hashed and written while the next fills. */
const BATCH_BYTES = 1024 * 1024;
/** Pieces being hashed or written before the stream waits (bounded memory whatever the network's speed). */
const MAX_BATCHES_IN_FLIGHT = 16;

/** Creates `file` (it must not exist) for writing. */
async function create(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'wx', 0o644);
  } catch (err) {
    throw new WriteError(`open ${file}: ${(err as Error).message}`);
  }
}

/** Hashes and writes on the calling thread: each chunk is written before the next is taken. */
export async function inlineWriter(file: string): Promise<HashingWriter> {
  const handle = await create(file);
  const hash = createHash('sha256');
  const failed = (err: unknown): never => {
    throw new WriteError(`write ${file}: ${(err as Error).message}`);
  };
  return {
    write(chunk) {
      hash.update(chunk);
      // A copy: the caller may reuse its chunk as soon as this returns.
      return handle.write(Buffer.from(chunk)).then(() => undefined, failed);
    },
    async end() {
      await handle.close().catch(failed);
      return hash.digest('hex');
    },
    abort: () => handle.close().catch(() => undefined),
  };
}

// CommonJS, evaluated by the worker: it keeps the shared buffers it is given by id, hashes the
// pieces of them it is sent, in order, acking each, and lets a buffer go when told; on null, it
// answers the digest.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha256');
const buffers = new Map();
parentPort.on('message', (message) => {
  if (message === null) {
    parentPort.postMessage({ digest: hash.digest('hex') });
    parentPort.close();
  } else if (message.shared !== undefined) {
    buffers.set(message.id, message.shared);
  } else if (message.release !== undefined) {
    buffers.delete(message.release);
  } else {
    hash.update(new Uint8Array(buffers.get(message.id), message.offset, message.length));
    parentPort.postMessage({ hashed: message.piece });
  }
});
`;

/** A worker waiting for its file: started before the object's size is known, so its start-up overlaps the request. */
interface IdleWorker {
  /** Hands the worker `file` (created now): the writer of a large object. */
  take(file: string): Promise<HashingWriter>;
  stop(): void;
}

/**
 * Bytes hashed on the worker and written from libuv's threadpool at their place in the file, both at
 * once; done when both are. Either a batch of this writer's (chunks copied into it, reused once
 * done) or a run of a reader's shared slab (taken as it is: no copy).
 */
interface Piece {
  /** Hashing and writing still to finish. */
  pending: number;
  done(): void;
}

function startWorker(): IdleWorker {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  /** Shared buffers the worker holds, by id. */
  const ids = new WeakMap<SharedArrayBuffer, number>();
  let nextId = 0;
  /**
   * This writer's batches the worker is done with, filled again rather than new ones allocated: a
   * new buffer costs its pages' first touch and the collector's attention, a reused one neither.
   */
  const spare: Buffer[] = [];
  let batch: Buffer | undefined;
  let filled = 0;
  /** A run of a reader's slab not sent yet, and the slab the last run was of. */
  let run: Buffer | undefined;
  let slab: SharedArrayBuffer | undefined;
  const pieces = new Map<number, Piece>();
  let nextPiece = 0;
  /** Where the next piece goes in the file. */
  let position = 0;
  /** Writes under way, and who waits for none to be. */
  let writing = 0;
  let written: (() => void) | undefined;
  let resume: (() => void) | undefined;
  let idle: (() => void) | undefined;
  let finish: ((digest: string) => void) | undefined;
  let failed: Error | undefined;
  let fail: ((err: Error) => void) | undefined;
  const failWith = (err: Error): void => {
    failed ??= err;
    fail?.(failed);
    resume?.();
    idle?.();
  };
  const idOf = (shared: SharedArrayBuffer): number => {
    let id = ids.get(shared);
    if (id === undefined) {
      ids.set(shared, (id = nextId++));
      worker.postMessage({ shared, id });
    }
    return id;
  };
  const settle = (key: number): void => {
    const piece = pieces.get(key) as Piece;
    if (--piece.pending > 0) return;
    pieces.delete(key);
    piece.done();
    if (resume !== undefined && pieces.size < MAX_BATCHES_IN_FLIGHT) {
      const go = resume;
      resume = undefined;
      go();
    }
    if (pieces.size === 0) idle?.();
  };
  return {
    async take(file) {
      let handle: FileHandle;
      try {
        handle = await create(file);
      } catch (err) {
        void worker.terminate();
        throw err;
      }
      worker.on('message', (message: { hashed?: number; digest?: string }) => {
        if (message.digest !== undefined) finish?.(message.digest);
        else if (message.hashed !== undefined) settle(message.hashed);
      });
      worker.on('error', (err: Error) => failWith(new WriteError(`hash ${file}: ${err.message}`)));
      const send = (bytes: Buffer, done: () => void): void => {
        const key = nextPiece++;
        pieces.set(key, { pending: 2, done });
        const shared = bytes.buffer as SharedArrayBuffer;
        worker.postMessage({ id: idOf(shared), offset: bytes.byteOffset, length: bytes.length, piece: key });
        writing++;
        handle
          .write(bytes, 0, bytes.length, position)
          .then(
            () => settle(key),
            (err: Error) => failWith(new WriteError(`write ${file}: ${err.message}`)),
          )
          .finally(() => {
            if (--writing === 0) written?.();
          });
        position += bytes.length;
      };
      const sendBatch = (): void => {
        if (batch === undefined || filled === 0) return;
        const whole = batch;
        send(whole.subarray(0, filled), () => spare.push(whole));
        batch = undefined;
        filled = 0;
      };
      const sendRun = (): void => {
        if (run === undefined) return;
        send(run, () => undefined);
        run = undefined;
      };
      /** A chunk of a reader's shared slab: sent as it is, with the run of the slab it continues. */
      const adopt = (chunk: Buffer): void => {
        sendBatch();
        const shared = chunk.buffer as SharedArrayBuffer;
        if (run !== undefined && run.buffer === shared && run.byteOffset + run.length === chunk.byteOffset) {
          run = Buffer.from(shared, run.byteOffset, run.length + chunk.length);
        } else {
          sendRun();
          run = chunk;
        }
        if (slab !== shared) {
          // The reader moved to a new slab: the worker may let the last one go once it has hashed it.
          if (slab !== undefined) worker.postMessage({ release: ids.get(slab) });
          slab = shared;
        }
        if (run.length >= BATCH_BYTES) sendRun();
      };
      const copy = (chunk: Buffer): void => {
        sendRun();
        for (let offset = 0; offset < chunk.length;) {
          if (batch === undefined) {
            batch = spare.pop() ?? Buffer.from(new SharedArrayBuffer(BATCH_BYTES));
            filled = 0;
          }
          const n = chunk.copy(batch, filled, offset);
          filled += n;
          offset += n;
          if (filled === BATCH_BYTES) sendBatch();
        }
      };
      return {
        write(chunk) {
          if (failed !== undefined) return Promise.reject(failed);
          if (chunk.buffer instanceof SharedArrayBuffer) adopt(chunk);
          else copy(chunk);
          if (pieces.size < MAX_BATCHES_IN_FLIGHT) return undefined;
          return new Promise<void>((resolve, reject) => {
            resume = () => (failed === undefined ? resolve() : reject(failed));
          });
        },
        async end() {
          try {
            if (failed === undefined) {
              sendBatch();
              sendRun();
            }
            // Every write done (a failed one fails this), then the digest of every piece, in order.
            await new Promise<void>((resolve) => {
              idle = resolve;
              if (pieces.size === 0 || failed !== undefined) resolve();
            });
            if (failed !== undefined) throw failed;
            return await new Promise<string>((resolve, reject) => {
              finish = resolve;
              fail = reject;
              worker.postMessage(null);
            });
          } finally {
            await handle.close().catch(() => undefined);
          }
        },
        async abort() {
          await worker.terminate();
          // Writes still under way finish before the file is closed (a closed fd could be reused).
          if (writing > 0) await new Promise<void>((resolve) => (written = resolve));
          await handle.close().catch(() => undefined);
        },
      };
    },
    stop: () => void worker.terminate(),
  };
}

/**
 * The writer for an object of `bytes` (unknown: inline, as most models without a length are small),
 * with its worker thread started now, while the request is on its way, rather than once the object's
 * size is known: its start-up is then not part of the transfer. `choose` creates the file (and stops
 * the thread when it is not needed); `abort` stops it when nothing came.
 */
export function startWriter(): {
  choose(bytes: number | undefined, file: string): Promise<HashingWriter>;
  abort(): void;
} {
  const worker = startWorker();
  return {
    choose(bytes, file) {
      if (bytes !== undefined && bytes >= OFF_THREAD_MIN_BYTES) return worker.take(file);
      worker.stop();
      return inlineWriter(file);
    },
    abort: () => worker.stop(),
  };
}
