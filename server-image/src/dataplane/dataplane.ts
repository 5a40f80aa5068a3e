/**
 * The data plane of one server: fetch and verify the model, load it into a pool of worker threads,
 * and run validated requests through the dynamic batcher.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchVerifiedModel, type VerifiedModel } from '../model/index.js';
import { nextBatch, type BatchLimits } from './batcher.js';
import { concatRequests, splitOutputs } from './concat.js';
import { WorkerPool } from './pool.js';
import type { LoadTiming } from './protocol.js';
import { isBatchable, signatureOf, type ModelSignature } from './signature.js';
import {
  InferError,
  ModelLoadError,
  type DataPlane,
  type DataPlaneObserver,
  type DataPlaneOptions,
  type InferRequest,
  type InferResponse,
  type ModelFetchInfo,
  type Tensor,
} from './types.js';
import type { ModelMetadata } from '../../../contract/metadata.js';
import { validateRequest, type PreparedRequest } from './validate.js';

/** The server's own name, as `GET /v2` reports it (and the package's name in package.json). */
export const SERVER_NAME = 'modelship';

/**
 * The version in the nearest enclosing package.json named "modelship" (found from src/ and dist/
 * alike, and in the image, which ships package.json for `"type": "module"`), or "unknown".
 */
export function serverVersion(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === SERVER_NAME && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No (readable) package.json here: look further up.
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

interface Pending {
  request: PreparedRequest;
  batchKey?: string;
  rows: number;
  queuedAt: number;
  resolve(outputs: Tensor[]): void;
  reject(err: Error): void;
}

type State = 'created' | 'loading' | 'ready' | 'failed' | 'closing' | 'closed';

/** Test-only settings: the worker script (by default worker.js next to the pool module). */
export interface DataPlaneInternals {
  workerUrl?: URL;
}

class OnnxDataPlane implements DataPlane {
  private state: State = 'created';
  private loading?: Promise<void>;
  private closing?: Promise<void>;
  private pool?: WorkerPool;
  private signature?: ModelSignature;
  private batchable = false;
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private timer?: { at: number; handle: NodeJS.Timeout };
  private pumpScheduled = false;
  private onDrained?: () => void;
  /** Set while no worker is alive because replacements fail to load: requests fail fast then. */
  private noWorkerCause?: string;
  private readonly limits: BatchLimits;
  private readonly version = serverVersion();

  constructor(
    private readonly options: DataPlaneOptions,
    private readonly observer: DataPlaneObserver,
    private readonly internals: DataPlaneInternals,
  ) {
    this.limits = {
      maxBatchSize: Math.max(1, options.batching.maxBatchSize),
      maxLatencyMs: Math.max(0, options.batching.maxLatencyMs),
    };
  }

  load(): Promise<void> {
    this.loading ??= this.loadOnce();
    return this.loading;
  }

  private async loadOnce(): Promise<void> {
    if (this.state !== 'created')
      throw new ModelLoadError(`load model ${this.options.name}: the data plane is already ${this.state}`);
    this.state = 'loading';
    const started = performance.now();
    let timing: LoadTiming;
    try {
      const model = await this.fetchModel();
      const pool = new WorkerPool(
        {
          modelPath: model.path,
          sha256: model.sha256,
          workers: Math.max(1, this.options.workers),
          intraOpThreads: Math.max(1, this.options.intraOpThreads),
          workerUrl: this.internals.workerUrl,
        },
        {
          idle: () => {
            this.noWorkerCause = undefined;
            this.pump();
          },
          workerExited: (info) => {
            this.observer.workerExited?.(info);
            if (info.whileLoading && this.pool?.liveCount() === 0) this.failQueued(info.reason);
          },
        },
      );
      this.pool = pool;
      const loaded = await pool.start();
      timing = loaded.timing;
      this.signature = signatureOf(loaded.inputs, loaded.outputs);
      this.batchable = isBatchable(this.signature) && this.limits.maxBatchSize > 1;
      // close() may have been called while loading; it waits for this promise, then stops the pool.
      if (this.state === 'loading') this.state = 'ready';
    } catch (err) {
      if (this.state === 'loading') this.state = 'failed';
      // Worker threads would keep the process alive; a failed load leaves none behind.
      await this.pool?.close();
      throw err;
    }
    this.observer.modelLoaded((performance.now() - started) / 1000, {
      readSeconds: timing.readMs / 1000,
      sessionSeconds: timing.sessionMs / 1000,
      warmupSeconds: timing.warmupMs / 1000,
    });
  }

  private async fetchModel(): Promise<VerifiedModel> {
    const onFetched = (info: ModelFetchInfo): void => this.observer.modelFetched?.(info);
    if (this.options.fetched === undefined) return fetchVerifiedModel(this.options, onFetched);
    const { path: file, sha256 } = await this.options.fetched;
    return fetchVerifiedModel(
      { modelUri: file, sha256, cacheDir: this.options.cacheDir, pvcRoot: this.options.pvcRoot },
      onFetched,
    );
  }

  live(): boolean {
    return this.state !== 'closed';
  }

  /** Loaded, warmed up, not closing, and at least one worker alive (not all being replaced). */
  ready(): boolean {
    return this.state === 'ready' && (this.pool?.liveCount() ?? 0) > 0;
  }

  models(): string[] {
    return [this.options.name];
  }

  serverMetadata(): { name: string; version: string; extensions: string[] } {
    return { name: SERVER_NAME, version: this.version, extensions: ['binary_tensor_data'] };
  }

  modelReady(name: string, version?: string): boolean {
    return this.isServed(name, version) && this.ready();
  }

  checkServed(name: string, version?: string): void {
    if (name !== this.options.name)
      throw new InferError(
        'not_found',
        `model "${name}" is not served here (this server serves "${this.options.name}")`,
      );
    if (!this.isServed(name, version)) {
      throw new InferError(
        'not_found',
        `model "${name}" has no version "${version}" (served version: "${this.options.version}")`,
      );
    }
  }

  metadata(name: string, version?: string): ModelMetadata {
    this.checkServed(name, version);
    const sig = this.signature;
    if (sig === undefined) throw new InferError('unavailable', `model ${name} is not loaded yet`);
    return {
      name: this.options.name,
      versions: [this.options.version],
      platform: 'onnxruntime_onnx',
      inputs: sig.inputs.map((t) => ({ ...t, shape: [...t.shape] })),
      outputs: sig.outputs.map((t) => ({ ...t, shape: [...t.shape] })),
    };
  }

  async infer(name: string, version: string | undefined, request: InferRequest): Promise<InferResponse> {
    this.checkServed(name, version);
    if (this.state === 'closing' || this.state === 'closed') {
      throw new InferError('unavailable', 'the server is shutting down');
    }
    const sig = this.signature;
    if (this.state !== 'ready' || sig === undefined) throw new InferError('unavailable', `model ${name} is not ready`);
    if (this.noWorkerCause !== undefined) throw this.noWorkerError(this.noWorkerCause);
    const prepared = validateRequest(sig, request, this.batchable);
    const outputs = await new Promise<Tensor[]>((resolve, reject) => {
      this.queue.push({
        request: prepared,
        batchKey: prepared.batchKey,
        rows: prepared.rows ?? 1,
        queuedAt: performance.now(),
        resolve,
        reject,
      });
      this.observer.queueDepth(this.queue.length);
      this.schedulePump();
    });
    const response: InferResponse = { model_name: this.options.name, model_version: this.options.version, outputs };
    if (request.id !== undefined) response.id = request.id;
    return response;
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    if (this.state === 'loading' || this.state === 'ready') this.state = 'closing';
    await this.loading?.catch(() => undefined);
    this.state = 'closing';
    // Queued requests run now rather than at their batching deadline.
    this.pump();
    await new Promise<void>((resolve) => {
      this.onDrained = resolve;
      this.checkDrained();
    });
    this.clearTimer();
    await this.pool?.close();
    this.state = 'closed';
  }

  private isServed(name: string, version?: string): boolean {
    return name === this.options.name && (version === undefined || version === '' || version === this.options.version);
  }

  /**
   * Pump once the current I/O phase is over: requests parsed from the same poll of the sockets then
   * batch together, where pumping at once would send the first of them to an idle worker alone.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Hand queued requests to idle workers, as the batcher decides. */
  private pump(): void {
    const pool = this.pool;
    if (pool === undefined) return;
    while (this.queue.length > 0 && pool.idleCount() > 0) {
      const now = this.state === 'closing' ? Infinity : performance.now();
      const decision = nextBatch(this.queue, now, this.limits);
      if (decision.kind === 'idle') break;
      if (decision.kind === 'wait') {
        this.armTimer(decision.until);
        break;
      }
      const batch = decision.indices.map((i) => this.queue[i]);
      for (let k = decision.indices.length - 1; k >= 0; k--) this.queue.splice(decision.indices[k], 1);
      this.observer.queueDepth(this.queue.length);
      this.dispatch(pool, batch);
    }
    this.checkDrained();
  }

  private dispatch(pool: WorkerPool, batch: Pending[]): void {
    this.inFlight++;
    const started = performance.now();
    const combined = concatRequests(batch.map((p) => p.request));
    pool
      .run(combined.inputs, combined.outputs, batch.length > 1)
      .then(
        (outputs) => {
          const seconds = (performance.now() - started) / 1000;
          this.observer.batchRun(
            batch.reduce((n, p) => n + p.rows, 0),
            seconds,
          );
          let parts: Tensor[][];
          try {
            parts = splitOutputs(
              outputs,
              batch.map((p) => p.rows),
            );
          } catch (err) {
            if (batch.length === 1) throw err;
            // The metadata promised a batch dimension the outputs do not have: stop batching for
            // good and give each request its own run.
            this.batchable = false;
            this.runAlone(batch);
            return;
          }
          batch.forEach((p, i) => p.resolve(parts[i]));
        },
        (err: Error) => {
          if (batch.length > 1 && err instanceof InferError && err.kind === 'model') {
            // One request may have upset the model; run each alone so only that one fails.
            this.runAlone(batch);
            return;
          }
          batch.forEach((p) => p.reject(err));
        },
      )
      .catch((err: Error) => batch.forEach((p) => p.reject(err)))
      .finally(() => {
        this.inFlight--;
        this.pump();
      });
  }

  private noWorkerError(cause: string): InferError {
    return new InferError('unavailable', `no inference worker can load model ${this.options.name}: ${cause}`);
  }

  /**
   * Every worker is gone and a replacement failed to load (for example the model file changed on
   * disk): waiting requests would wait for nothing, so they fail now, as do new ones until a
   * replacement loads.
   */
  private failQueued(cause: string): void {
    this.noWorkerCause = cause;
    const failed = this.queue.splice(0);
    this.observer.queueDepth(0);
    for (const p of failed) p.reject(this.noWorkerError(cause));
    this.checkDrained();
  }

  /** Put a batch's requests back at the front of the queue, each to run on its own. */
  private runAlone(batch: Pending[]): void {
    this.queue.unshift(...batch.map((p) => ({ ...p, batchKey: undefined })));
    this.observer.queueDepth(this.queue.length);
  }

  private armTimer(at: number): void {
    if (this.timer !== undefined && this.timer.at <= at) return;
    this.clearTimer();
    const handle = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(0, at - performance.now()),
    );
    this.timer = { at, handle };
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer.handle);
    this.timer = undefined;
  }

  private checkDrained(): void {
    if (this.onDrained !== undefined && this.queue.length === 0 && this.inFlight === 0) {
      const done = this.onDrained;
      this.onDrained = undefined;
      done();
    }
  }
}

/**
 * The data plane for one model. Call load() before serving; infer() validates against the model's
 * metadata and runs on worker threads, batching concurrent requests when the model allows it.
 * `internals` is for tests only (for example a worker script that crashes on purpose).
 */
export function createOnnxDataPlane(
  options: DataPlaneOptions,
  observer: DataPlaneObserver,
  internals: DataPlaneInternals = {},
): DataPlane {
  return new OnnxDataPlane(options, observer, internals);
}
