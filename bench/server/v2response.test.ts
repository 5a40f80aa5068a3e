/** Tests for v2response.ts: decoding JSON and binary V2 responses, comparing outputs (node:test). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeInferResponse, maxAbsDifference, type DecodedOutput } from './v2response.js';

/** A binary V2 response as Triton lays it out: JSON header, then each output's bytes in order. */
function binaryResponse(): { body: Uint8Array; headerLength: number } {
  const header = Buffer.from(
    JSON.stringify({
      model_name: 'tiny',
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } },
        { name: 'label', datatype: 'INT64', shape: [1], parameters: { binary_data_size: 8 } },
      ],
    }),
  );
  const data = Buffer.alloc(16);
  data.writeFloatLE(0.25, 0);
  data.writeFloatLE(0.75, 4);
  data.writeBigInt64LE(1n, 8);
  return { body: new Uint8Array(Buffer.concat([header, data])), headerLength: header.length };
}

test('decodeInferResponse reads JSON outputs', () => {
  const body = Buffer.from(
    JSON.stringify({ outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 2], data: [0.5, 1.5] }] }),
  );
  assert.deepEqual(decodeInferResponse(body, null), [
    { name: 'y', datatype: 'FP32', shape: [1, 2], values: [0.5, 1.5] },
  ]);
});

test('decodeInferResponse reads binary outputs after the header, in order', () => {
  const { body, headerLength } = binaryResponse();
  assert.deepEqual(decodeInferResponse(body, headerLength), [
    { name: 'probabilities', datatype: 'FP32', shape: [1, 2], values: [0.25, 0.75] },
    { name: 'label', datatype: 'INT64', shape: [1], values: [1] },
  ]);
});

const BAD: [string, () => void, RegExp][] = [
  [
    'binary data shorter than declared',
    () => {
      const { body, headerLength } = binaryResponse();
      decodeInferResponse(body.subarray(0, body.length - 4), headerLength);
    },
    /output label needs 8 bytes/,
  ],
  ['header length past the end', () => decodeInferResponse(new Uint8Array(4), 10), /exceeds body/],
  ['no outputs array', () => decodeInferResponse(Buffer.from('{"error":"x"}'), null), /no outputs/],
  [
    'an output without data',
    () => decodeInferResponse(Buffer.from('{"outputs":[{"name":"y","datatype":"FP32","shape":[1]}]}'), null),
    /output y has neither/,
  ],
];
for (const [what, run, error] of BAD) {
  test(`decodeInferResponse rejects ${what}`, () => {
    assert.throws(run, error);
  });
}

const out = (name: string, values: number[], shape = [1, values.length]): DecodedOutput => ({
  name,
  datatype: 'FP32',
  shape,
  values,
});
const DIFFS: [string, DecodedOutput[], DecodedOutput[], number][] = [
  ['identical outputs', [out('y', [1, 2])], [out('y', [1, 2])], 0],
  ['outputs matched by name, not order', [out('a', [1]), out('b', [5])], [out('b', [5.5]), out('a', [1])], 0.5],
  ['a different shape', [out('y', [1, 2])], [out('y', [1, 2], [2, 1])], Infinity],
  ['a missing output', [out('y', [1])], [out('z', [1])], Infinity],
  ['a different count of outputs', [out('y', [1])], [], Infinity],
];
for (const [what, a, b, expected] of DIFFS) {
  test(`maxAbsDifference: ${what}`, () => {
    assert.equal(maxAbsDifference(a, b), expected);
  });
}
