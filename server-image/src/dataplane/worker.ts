/**
 * An inference worker thread: owns one onnxruntime session, because `session.run()` occupies the
 * thread that calls it. It loads the (already verified) model, runs one warm-up inference, reports
 * the model's metadata, then runs one request at a time as the pool sends them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { dataTypeOfOrt, ortTypeOf } from './dtypes.js';
import { forPosting, type RunMessage, type WorkerConfig, type WorkerMessage } from './protocol.js';
import { signatureOf, type RawValueMetadata } from './signature.js';
import type { Tensor } from './types.js';
import { warmupInputs } from './warmup.js';

if (parentPort === null) throw new Error('worker.js must run in a worker thread');
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
  try {
    session = await ort.InferenceSession.create(config.modelPath, {
      intraOpNumThreads: config.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    inputs = session.inputMetadata.map((m) => ({ ...m, shape: m.isTensor ? [...m.shape] : undefined }));
    outputs = session.outputMetadata.map((m) => ({ ...m, shape: m.isTensor ? [...m.shape] : undefined }));
    const sig = signatureOf(inputs, outputs);
    await run(
      session,
      warmupInputs(sig),
      sig.outputs.map((o) => o.name),
    ).catch((err: unknown) => {
      throw new Error(`warm-up inference with zero inputs failed: ${messageOf(err)}`);
    });
  } catch (err) {
    send({ type: 'load_failed', message: messageOf(err) });
    return;
  }
  send({ type: 'loaded', inputs, outputs });

  port.on('message', (message: RunMessage) => {
    run(session, message.inputs, message.outputs).then(
      (result) => {
        const { tensors, transfer } = forPosting(result, true);
        send({ type: 'result', id: message.id, outputs: tensors }, transfer);
      },
      (err: unknown) => send({ type: 'failed', id: message.id, message: messageOf(err) }),
    );
  });
}

void main();
