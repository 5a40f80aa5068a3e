/**
 * The sha256 of a download, computed while it streams. Hashing a large model on the thread that
 * reads the socket would hold the socket's reads for as long as the hash takes (a few hundred ms
 * per 100 MB on a busy node): for large objects a worker thread hashes while the main thread keeps
 * reading and writing, so that the fetch runs as fast as the store's own client.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** A sha256 fed chunk by chunk. */
export interface StreamingHash {
  /** Add a chunk (the caller keeps it: it is copied, never detached). Resolves when more may be sent. */
  update(chunk: Buffer): Promise<void> | undefined;
  /** The hex digest of everything added. */
  digest(): Promise<string>;
  /** Give up: free the thread, if any. */
  abort(): void;
}

/** Objects at least this large are hashed on a worker thread (starting one costs ~20 ms). */
export const OFF_THREAD_MIN_BYTES = 16 * 1024 * 1024;
/** Bytes per message to the worker: few messages, and a batch is hashed while the next fills. */
const BATCH_BYTES = 1024 * 1024;
/** Batches the worker may be behind before the stream waits for it (bounded memory whatever the network's speed). */
const MAX_BATCHES_IN_FLIGHT = 16;

/** Hashes on the calling thread. */
export function inlineHash(): StreamingHash {
  const hash = createHash('sha256');
  return {
    update(chunk) {
      hash.update(chunk);
      return undefined;
    },
    digest: async () => hash.digest('hex'),
    abort: () => undefined,
  };
}

// CommonJS, evaluated by the worker: hash each batch, ack it, and answer the digest at the end.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha256');
parentPort.on('message', (message) => {
  if (message === null) {
    parentPort.postMessage({ digest: hash.digest('hex') });
    parentPort.close();
    return;
  }
  hash.update(new Uint8Array(message.bytes, 0, message.length));
  parentPort.postMessage({ ack: true });
});
`;

/** Hashes on a worker thread, in batches copied into buffers that are moved (not copied again) to it. */
export function workerHash(): StreamingHash {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  let batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
  let filled = 0;
  let inFlight = 0;
  let resume: (() => void) | undefined;
  let finish: ((digest: string) => void) | undefined;
  let failed: Error | undefined;
  let fail: ((err: Error) => void) | undefined;
  worker.on('message', (message: { ack?: true; digest?: string }) => {
    if (message.digest !== undefined) {
      finish?.(message.digest);
      return;
    }
    inFlight--;
    if (resume !== undefined && inFlight < MAX_BATCHES_IN_FLIGHT) {
      const go = resume;
      resume = undefined;
      go();
    }
  });
  worker.on('error', (err: Error) => {
    failed = err;
    fail?.(err);
    resume?.();
  });
  const send = (): void => {
    const bytes = batch.buffer;
    worker.postMessage({ bytes, length: filled }, [bytes]);
    inFlight++;
    batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
    filled = 0;
  };
  return {
    update(chunk) {
      if (failed !== undefined) throw failed;
      for (let offset = 0; offset < chunk.length;) {
        const n = chunk.copy(batch, filled, offset);
        filled += n;
        offset += n;
        if (filled === BATCH_BYTES) send();
      }
      if (inFlight < MAX_BATCHES_IN_FLIGHT) return undefined;
      return new Promise<void>((resolve) => (resume = resolve));
    },
    digest() {
      if (failed !== undefined) return Promise.reject(failed);
      if (filled > 0) send();
      return new Promise<string>((resolve, reject) => {
        finish = resolve;
        fail = reject;
        worker.postMessage(null);
      });
    },
    abort() {
      void worker.terminate();
    },
  };
}

/** The hash for an object of this size (unknown: inline, as most models without a length are small). */
export function hashFor(bytes: number | undefined): StreamingHash {
  return bytes !== undefined && bytes >= OFF_THREAD_MIN_BYTES ? workerHash() : inlineHash();
}

/**
 * hashFor, with the worker thread started now, while the request is on its way, rather than once
 * the object's size is known: its start-up is then not part of the transfer. `choose` takes the
 * size (and stops the thread when it is not needed); `abort` stops it when nothing came.
 */
export function startHash(): { choose(bytes: number | undefined): StreamingHash; abort(): void } {
  const worker = workerHash();
  return {
    choose(bytes) {
      if (bytes !== undefined && bytes >= OFF_THREAD_MIN_BYTES) return worker;
      worker.abort();
      return inlineHash();
    },
    abort: () => worker.abort(),
  };
}
