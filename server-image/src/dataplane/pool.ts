/**
 * A pool of inference worker threads, each with its own onnxruntime session. A worker runs one
 * request at a time; the scheduler only hands work to idle workers, so queued requests keep
 * gathering into batches while every worker is busy. A worker that dies fails its in-flight
 * request with InferError('internal') and is replaced.
 */
import { Worker } from 'node:worker_threads';
import {
  forPosting,
  type LoadTiming,
  type RunMessage,
  type StopMessage,
  type WorkerConfig,
  type WorkerMessage,
} from './protocol.js';
import type { RawValueMetadata } from './signature.js';
import { InferError, ModelLoadError, type Tensor, type WorkerExitInfo } from './types.js';

/** How to start the workers. */
export interface PoolOptions {
  modelPath: string;
  /** The model's verified sha256; every worker checks the bytes it loads against it. */
  sha256: string;
  workers: number;
  intraOpThreads: number;
  /** The compiled worker script; the real one next to this file unless a test says otherwise. */
  workerUrl?: URL;
}

/** What the pool tells its owner. */
export interface PoolEvents {
  /** A worker became free to take work. */
  idle(): void;
  /** A worker died outside close(); a replacement is starting. */
  workerExited(info: WorkerExitInfo): void;
}

/**
 * The model's metadata as the first worker reported it, and the load steps of the slowest worker
 * (they load at once, so the slowest is what start() waited for).
 */
export interface LoadedModel {
  inputs: RawValueMetadata[];
  outputs: RawValueMetadata[];
  timing: LoadTiming;
}

interface Job {
  resolve(outputs: Tensor[]): void;
  reject(err: Error): void;
}

interface Slot {
  index: number;
  thread: Worker;
  state: 'loading' | 'idle' | 'busy' | 'exited';
  job?: { id: number } & Job;
  /** The last uncaught error the thread reported, for the exit message. */
  lastError?: string;
  /** Consecutive replacements that failed to load, for back-off. */
  failedStarts: number;
  /** Settles when the thread has exited. */
  exited: Promise<void>;
}

const MAX_RESTART_DELAY_MS = 30_000;

/** Worker threads running one model; see the module comment. */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextJobId = 1;
  private nextPick = 0;
  private closing = false;
  private readonly restartTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly options: PoolOptions,
    private readonly events: PoolEvents,
  ) {}

  /**
   * Start every worker and wait until each has loaded the model and run its warm-up inference.
   * Rejects with ModelLoadError (after stopping all workers) if any worker fails to load.
   */
  async start(): Promise<LoadedModel> {
    const loads: Promise<LoadedModel>[] = [];
    for (let i = 0; i < this.options.workers; i++) {
      const loaded = this.spawn(i, 0);
      this.slots.push(loaded.slot);
      loads.push(loaded.done);
    }
    try {
      const all = await Promise.all(loads);
      const total = (t: LoadTiming): number => t.readMs + t.sessionMs + t.warmupMs;
      const slowest = all.reduce((a, b) => (total(b.timing) > total(a.timing) ? b : a));
      return { ...all[0], timing: slowest.timing };
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Workers free to take a request now. */
  idleCount(): number {
    return this.slots.filter((s) => s.state === 'idle').length;
  }

  /** Workers that have loaded the model and not exited: the pool can serve while this is > 0. */
  liveCount(): number {
    return this.slots.filter((s) => s.state === 'idle' || s.state === 'busy').length;
  }

  /**
   * Run one request on an idle worker (round-robin among idle ones). `owned` says the caller will
   * not read the input data again, so its buffers may be transferred instead of copied.
   */
  run(inputs: readonly Tensor[], outputs: string[], owned: boolean): Promise<Tensor[]> {
    const slot = this.pickIdle();
    if (slot === undefined) return Promise.reject(new InferError('unavailable', 'no inference worker is free'));
    const id = this.nextJobId++;
    const { tensors, transfer } = forPosting(inputs, owned);
    return new Promise<Tensor[]>((resolve, reject) => {
      const message: RunMessage = { type: 'run', id, inputs: tensors, outputs };
      slot.thread.postMessage(message, transfer);
      slot.state = 'busy';
      slot.job = { id, resolve, reject };
    });
  }

  /**
   * Stop every worker once the request in its hands is done (those still complete normally). A
   * worker is asked to exit rather than terminated: terminating a thread while onnxruntime is
   * inside run() aborts the whole process.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    await Promise.all(
      this.slots.map((slot) => {
        if (slot.state !== 'exited') slot.thread.postMessage({ type: 'stop' } satisfies StopMessage);
        return slot.exited;
      }),
    );
  }

  private pickIdle(): Slot | undefined {
    for (let k = 0; k < this.slots.length; k++) {
      const slot = this.slots[(this.nextPick + k) % this.slots.length];
      if (slot.state === 'idle') {
        this.nextPick = (slot.index + 1) % this.slots.length;
        return slot;
      }
    }
    return undefined;
  }

  private spawn(index: number, failedStarts: number): { slot: Slot; done: Promise<LoadedModel> } {
    const { modelPath, sha256, intraOpThreads } = this.options;
    const workerData: WorkerConfig = { modelPath, sha256, intraOpThreads };
    const thread = new Worker(this.options.workerUrl ?? new URL('./worker.js', import.meta.url), { workerData });
    let markExited = (): void => undefined;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const slot: Slot = { index, thread, state: 'loading', failedStarts, exited };
    const done = new Promise<LoadedModel>((resolve, reject) => {
      thread.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'loaded':
            slot.state = 'idle';
            slot.failedStarts = 0;
            resolve({ inputs: message.inputs, outputs: message.outputs, timing: message.timing });
            this.events.idle();
            return;
          case 'load_failed':
            // The worker's thread ends by itself: it has nothing left to listen to.
            reject(
              new ModelLoadError(
                `load model ${this.options.modelPath} in inference worker ${index}: ${message.message}`,
              ),
            );
            slot.lastError = message.message;
            return;
          case 'result':
          case 'failed':
            this.settle(slot, message);
            return;
        }
      });
      // A worker may throw anything, not only an Error (Node 26's typings say `unknown`).
      thread.on('error', (err) => {
        slot.lastError = err instanceof Error ? err.message : String(err);
      });
      thread.on('exit', (exitCode) => {
        const wasLoading = slot.state === 'loading';
        slot.state = 'exited';
        const reason = slot.lastError ?? 'no error reported';
        markExited();
        reject(new ModelLoadError(`inference worker ${index} exited with code ${exitCode} while loading: ${reason}`));
        const job = slot.job;
        slot.job = undefined;
        if (this.closing) {
          job?.reject(new InferError('unavailable', 'the server is shutting down'));
          return;
        }
        job?.reject(
          new InferError(
            'internal',
            `inference worker ${index} exited with code ${exitCode} while running this request: ${reason}`,
          ),
        );
        this.events.workerExited({ worker: index, exitCode, reason, whileLoading: wasLoading });
        this.replace(index, wasLoading ? slot.failedStarts + 1 : 0);
      });
    });
    // A rejection during start() is handled by start(); later ones only matter through 'exit'.
    done.catch(() => undefined);
    return { slot, done };
  }

  private replace(index: number, failedStarts: number): void {
    const delay = failedStarts === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** failedStarts);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.closing) return;
      this.slots[index] = this.spawn(index, failedStarts).slot;
    }, delay);
    this.restartTimers.add(timer);
  }

  private settle(slot: Slot, message: Extract<WorkerMessage, { type: 'result' | 'failed' }>): void {
    const job = slot.job;
    if (job === undefined || job.id !== message.id) return;
    slot.job = undefined;
    slot.state = 'idle';
    if (message.type === 'result') job.resolve(message.outputs);
    // The request passed validation against the model's metadata, so a run that still fails is
    // the model's fault (a Gather out of range, a Reshape that cannot hold): a 500, which is what
    // monitoring and the canary analysis count, never a 4xx that blames the caller.
    else job.reject(new InferError('model', `the model failed on this input: ${message.message}`));
    this.events.idle();
  }
}
