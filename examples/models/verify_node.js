// Loads every committed model in onnxruntime-node (the runtime the server uses) and checks it
// computes what build_models.py says it does, so a model that only Python onnxruntime accepts
// (opset, IR version, ai.onnx.ml operator) is caught here rather than in a server test.
// Usage: node examples/models/verify_node.js   (exit code 1 on the first failure)
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';

// As in the server's inference worker (server-image/src/dataplane/worker.ts): with Node 26's
// Float16Array, onnxruntime-node reads FP16 data as 0 bytes; without it, FP16 stays a Uint16Array.
delete globalThis.Float16Array;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'models');
const examples = join(root, 'examples', 'models');

/** Open a model after checking its bytes against the folder's SHA256SUMS. */
async function open(folder, name) {
  const bytes = readFileSync(join(folder, name));
  const sums = readFileSync(join(folder, 'SHA256SUMS'), 'utf8');
  const digest = createHash('sha256').update(bytes).digest('hex');
  assert.ok(sums.includes(`${digest}  ${name}\n`), `${name}: sha256 ${digest} is not in SHA256SUMS`);
  // Fatal-only logging: the failures this script provokes are asserted, not printed.
  return ort.InferenceSession.create(bytes, { logSeverityLevel: 4 });
}

const plain = (tensor) => Array.from(tensor.data, (v) => (typeof v === 'bigint' ? v.toString() : v));

const iris = new ort.Tensor('float32', Float32Array.from([5.1, 3.5, 1.4, 0.2, 6.4, 3.2, 4.5, 1.5, 6.3, 3.3, 6.0, 2.5]), [3, 4]);

async function checkTiny() {
  const out = await (await open(fixtures, 'tiny.onnx')).run({ input: iris });
  assert.deepEqual(plain(out.label), ['0', '1', '2']);
  assert.deepEqual(out.probabilities.dims, [3, 3]);
}

async function checkFixedBatch() {
  const session = await open(fixtures, 'fixed_batch.onnx');
  const one = new ort.Tensor('float32', iris.data.slice(0, 4), [1, 4]);
  assert.deepEqual(plain((await session.run({ input: one })).label), ['0']);
  await assert.rejects(session.run({ input: iris }), /dimension|shape/i, 'fixed_batch.onnx accepted a batch of 3');
}

/** Returns the largest difference between a batched MLP run and row-by-row runs (reported, not asserted). */
async function checkMlp() {
  const session = await open(fixtures, 'mlp.onnx');
  const rows = 4;
  const x = Float32Array.from({ length: rows * 784 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const batched = (await session.run({ input: new ort.Tensor('float32', x, [rows, 784]) })).logits;
  assert.deepEqual(batched.dims, [rows, 10]);
  let maxDiff = 0;
  for (let r = 0; r < rows; r++) {
    const row = new ort.Tensor('float32', x.slice(r * 784, (r + 1) * 784), [1, 784]);
    const single = (await session.run({ input: row })).logits.data;
    for (let j = 0; j < 10; j++) maxDiff = Math.max(maxDiff, Math.abs(single[j] - batched.data[r * 10 + j]));
  }
  return maxDiff;
}

async function checkTwoInputs() {
  const out = await (await open(fixtures, 'two_inputs.onnx')).run({
    x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]),
    k: new ort.Tensor('int64', BigInt64Array.from([2n, -1n]), [2, 1]),
  });
  assert.deepEqual(plain(out.scaled), [2, 4, 6, -4, -5, -6]);
  assert.deepEqual(plain(out.total), [8, 14]);
}

async function checkScalarSum() {
  const out = await (await open(fixtures, 'scalar_sum.onnx')).run({
    input: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]),
  });
  assert.deepEqual(out.total.dims, []);
  assert.deepEqual(plain(out.total), [21]);
}

// The same [2,2] samples build_models.py feeds in Python.
const samples = {
  fp32: ['float32', Float32Array.from([1.5, -2.25, 3.4028234663852886e38, 0])],
  fp64: ['float64', Float64Array.from([1.5, -2.25, 1e300, 0.1])],
  int32: ['int32', Int32Array.from([1, -2, 2147483646, -2147483648])],
  int64: ['int64', BigInt64Array.from([1n, -2n, 9007199254740993n, -9223372036854775808n])],
  bool: ['bool', Uint8Array.from([1, 0, 0, 1])],
  bytes: ['string', ['hello', '', 'ünïcode', 'a b']],
  uint8: ['uint8', Uint8Array.from([0, 255, 1, 128])],
  int8: ['int8', Int8Array.from([-128, 127, 0, -1])],
  int16: ['int16', Int16Array.from([-32768, 32767, 0, -1])],
  uint16: ['uint16', Uint16Array.from([0, 65535, 1, 2])],
  uint32: ['uint32', Uint32Array.from([0, 4294967295, 1, 2])],
  uint64: ['uint64', BigUint64Array.from([0n, 18446744073709551615n, 1n, 2n])],
  // IEEE half-precision bits of 1.5, -2.25, 65504, 0.
  fp16: ['float16', Uint16Array.from([0x3e00, 0xc080, 0x7bff, 0x0000])],
};

async function checkEchoes() {
  for (const [suffix, [type, data]] of Object.entries(samples)) {
    const session = await open(fixtures, `echo_${suffix}.onnx`);
    const out = await session.run({ input: new ort.Tensor(type, data, [2, 2]) });
    assert.equal(out.output.type, type, `echo_${suffix}.onnx output type`);
    assert.deepEqual(plain(out.output), plain({ data }), `echo_${suffix}.onnx round trip`);
  }
}

async function checkDtypes() {
  const session = await open(fixtures, 'dtypes.onnx');
  const feeds = {};
  for (const suffix of ['fp32', 'fp64', 'int32', 'int64', 'bool', 'bytes']) {
    const [type, data] = samples[suffix];
    feeds[`${suffix}_in`] = new ort.Tensor(type, data, [2, 2]);
  }
  const out = await session.run(feeds);
  assert.deepEqual(plain(out.fp64_out).slice(0, 2), [2.5, -1.25]);
  assert.deepEqual(plain(out.int32_out).slice(0, 2), [2, -1]);
  assert.deepEqual(plain(out.int64_out), ['2', '-1', '9007199254740994', '-9223372036854775807']);
  assert.deepEqual(plain(out.bool_out), [false, true, true, false].map(Number));
  assert.deepEqual(plain(out.bytes_out), samples.bytes[1]);
}

/**
 * Every sample request file, run through every digits model, must give index.json's labels, or
 * fail in onnxruntime where index.json says null (digits-faulty's out-of-range Gather). The
 * derived canaries must also answer with digits.onnx's exact probabilities where they answer.
 */
async function checkDigits() {
  const index = JSON.parse(readFileSync(join(examples, 'samples', 'index.json'), 'utf8'));
  const stable = await open(examples, 'digits.onnx');
  for (const name of ['digits', 'digits-v2', 'digits-bad', 'digits-faulty', 'digits-slow']) {
    const session = await open(examples, `${name}.onnx`);
    for (const sample of index.samples) {
      const body = JSON.parse(readFileSync(join(examples, 'samples', sample.file), 'utf8'));
      const [data, dims] = sample.protocol === 'v1'
        ? [body.instances.flat(), [body.instances.length, 64]]
        : [body.inputs[0].data, body.inputs[0].shape];
      const feeds = { input: new ort.Tensor('float32', Float32Array.from(data), dims) };
      if (sample.predicted[name] === null) {
        await assert.rejects(session.run(feeds), /out of data bounds/, `${name}.onnx on ${sample.file} should fail`);
        continue;
      }
      const out = await session.run(feeds);
      assert.deepEqual(plain(out.label).map(Number), sample.predicted[name], `${name}.onnx on ${sample.file}`);
      assert.deepEqual(out.probabilities.dims, [dims[0], 10]);
      if (name === 'digits-faulty' || name === 'digits-slow') {
        assert.deepEqual(plain(out.probabilities), plain((await stable.run(feeds)).probabilities), `${name}.onnx probabilities`);
      }
    }
  }
}

/** The README quotes digests; keep it honest (the echo models are listed only in SHA256SUMS). */
function checkReadme() {
  const readme = readFileSync(join(examples, 'README.md'), 'utf8');
  for (const folder of [examples, fixtures]) {
    for (const line of readFileSync(join(folder, 'SHA256SUMS'), 'utf8').trim().split('\n')) {
      const [digest, name] = line.split(/\s+/);
      if (!name.startsWith('echo_')) assert.ok(readme.includes(`\`${digest}\``), `README.md: wrong or missing sha256 for ${name}`);
    }
  }
}

checkReadme();
await checkTiny();
await checkFixedBatch();
const mlpDiff = await checkMlp();
await checkTwoInputs();
await checkScalarSum();
await checkEchoes();
await checkDtypes();
await checkDigits();
console.log(`onnxruntime-node: every model loads and computes as built (mlp batched vs row-by-row max |diff| ${mlpDiff})`);
