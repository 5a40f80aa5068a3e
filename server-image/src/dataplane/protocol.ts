/**
 * Messages between the pool (main thread) and an inference worker, and the rules for moving tensor
 * data between them with as few copies as possible.
 */
import type { RawValueMetadata } from './signature.js';
import type { Tensor, TensorData } from './types.js';

/** What a worker is started with (its `workerData`). */
export interface WorkerConfig {
  modelPath: string;
  /** The verified digest; the worker checks the bytes it loads against it once more. */
  sha256: string;
  intraOpThreads: number;
}

/** Main → worker: run the model on these inputs and return these outputs. */
export interface RunMessage {
  type: 'run';
  id: number;
  inputs: Tensor[];
  outputs: string[];
}

/** Main → worker: finish the request in hand, then exit. */
export interface StopMessage {
  type: 'stop';
}

/** How long a worker's load took, by step (ms): read + digest check, session creation, warm-up run. */
export interface LoadTiming {
  readMs: number;
  sessionMs: number;
  warmupMs: number;
}

/** Worker → main. */
export type WorkerMessage =
  | { type: 'loaded'; inputs: RawValueMetadata[]; outputs: RawValueMetadata[]; timing: LoadTiming }
  | { type: 'load_failed'; message: string }
  | { type: 'result'; id: number; outputs: Tensor[] }
  | { type: 'failed'; id: number; message: string };

/**
 * Tensors ready to post, and the buffers to transfer with them. A typed array that owns its whole
 * ArrayBuffer is transferred when `owned` (the sender never reads it again), otherwise cloned (one
 * copy, the sender keeps its data); a view into a larger buffer is first copied out so that
 * structured clone does not copy the whole underlying buffer (for example an HTTP body).
 */
export function forPosting(tensors: readonly Tensor[], owned: boolean): { tensors: Tensor[]; transfer: ArrayBuffer[] } {
  const transfer = new Set<ArrayBuffer>();
  const out = tensors.map((t): Tensor => {
    if (Array.isArray(t.data)) return t;
    let data: TensorData = t.data;
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    const isShared = Object.prototype.toString.call(data.buffer) !== '[object ArrayBuffer]';
    const isSharedOrTaken = isShared || transfer.has(data.buffer as ArrayBuffer);
    if (!whole || isSharedOrTaken) {
      data = data.slice() as TensorData;
      transfer.add((data as Exclude<TensorData, string[]>).buffer as ArrayBuffer);
    } else if (owned) {
      transfer.add(data.buffer as ArrayBuffer);
    }
    return { name: t.name, datatype: t.datatype, shape: t.shape, data };
  });
  return { tensors: out, transfer: [...transfer] };
}
