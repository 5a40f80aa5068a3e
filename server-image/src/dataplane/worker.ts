/**
 * An inference worker thread: owns one onnxruntime session, because `session.run()` occupies the
 * thread that calls it. It reads the (already verified) model into memory, checks those very bytes
 * against the verified digest (so a file swapped after verification is never loaded, not even by a
 * replacement worker), creates the session from them, runs one warm-up inference, reports the
 * model's metadata, then runs one request at a time as the pool sends them.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { dataTypeOfOrt, ortTypeOf } from './dtypes.js';
import {
  forPosting,
  type LoadTiming,
  type RunMessage,
  type StopMessage,
  type WorkerConfig,
  type WorkerMessage,
} from './protocol.js';
import { signatureOf, type RawValueMetadata } from './signature.js';
import type { Tensor } from './types.js';
import { warmupInputs } from './warmup.js';

if (parentPort === null) throw new Error('worker.js must run in a worker thread');
// FP16 data is raw half bits in a Uint16Array. Where Float16Array exists (Node 26), onnxruntime-common
// wraps such data in one, and onnxruntime-node (1.30, 1.31) reads a Float16Array as 0 bytes ("not
// enough space: expected 4, got 0"). Without it, FP16 stays a Uint16Array into and out of onnxruntime.
// This thread runs only onnxruntime, which looks the global up at its first Tensor, after this line.
delete (globalThis as { Float16Array?: unknown }).Float16Array;
const port = parentPort;
const config = workerData as WorkerConfig;

function send(message: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function run(session: ort.InferenceSession, inputs: readonly Tensor[], outputs: string[]): Promise<Tensor[]> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of inputs) {
    feeds[t.name] = new ort.Tensor(ortTypeOf(t.datatype), t.data as ort.Tensor.DataType, t.shape);
  }
  const results = await session.run(feeds, outputs);
  return outputs.map((name) => {
    const value = results[name];
    const datatype = dataTypeOfOrt(value.type);
    if (datatype === undefined) throw new Error(`output "${name}" has element type ${value.type}, which is not served`);
    return { name, datatype, shape: [...value.dims], data: value.data as Tensor['data'] };
  });
}

async function main(): Promise<void> {
  let session: ort.InferenceSession;
  let inputs: RawValueMetadata[];
  let outputs: RawValueMetadata[];
  const timing: LoadTiming = { readMs: 0, sessionMs: 0, warmupMs: 0 };
  try {
    let mark = performance.now();
    const lap = (): number => {
      const now = performance.now();
      const ms = now - mark;
      mark = now;
      return ms;
    };
    const bytes = await readFile(config.modelPath);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== config.sha256) {
      throw new Error(
        `sha256 of ${config.modelPath} changed after verification: expected ${config.sha256}, got ${actual}`,
      );
    }
    timing.readMs = lap();
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: config.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Errors only: onnxruntime's warnings would interleave with the server's JSON log lines.
      logSeverityLevel: 3,
    });
    inputs = session.inputMetadata.map((m) => ({ ...m, shape: m.isTensor ? [...m.shape] : undefined }));
    outputs = session.outputMetadata.map((m) => ({ ...m, shape: m.isTensor ? [...m.shape] : undefined }));
    const sig = signatureOf(inputs, outputs);
    timing.sessionMs = lap();
    await run(
      session,
      warmupInputs(sig),
      sig.outputs.map((o) => o.name),
    ).catch((err: unknown) => {
      throw new Error(`warm-up inference with zero inputs failed: ${messageOf(err)}`);
    });
    timing.warmupMs = lap();
  } catch (err) {
    send({ type: 'load_failed', message: messageOf(err) });
    return;
  }
  send({ type: 'loaded', inputs, outputs, timing });

  // Requests run one after another; `stop` waits for the one in hand. The thread must never be
  // terminated while onnxruntime is inside run(): that aborts the whole process.
  let current: Promise<void> = Promise.resolve();
  port.on('message', (message: RunMessage | StopMessage) => {
    if (message.type === 'stop') {
      void current.then(() => process.exit(0));
      return;
    }
    current = current.then(() =>
      run(session, message.inputs, message.outputs).then(
        (result) => {
          const { tensors, transfer } = forPosting(result, true);
          send({ type: 'result', id: message.id, outputs: tensors }, transfer);
        },
        (err: unknown) => send({ type: 'failed', id: message.id, message: messageOf(err) }),
      ),
    );
  });
}

void main();
