import { concatRequests, splitOutputs } from './concat.js';
import { InferError, type Tensor } from './types.js';
import type { PreparedRequest } from './validate.js';

const request = (rows: number, start: number): PreparedRequest => ({
  inputs: [
    {
      name: 'x',
      datatype: 'FP32',
      shape: [rows, 2],
      data: Float32Array.from({ length: rows * 2 }, (_, i) => start + i),
    },
    { name: 's', datatype: 'BYTES', shape: [rows], data: Array.from({ length: rows }, (_, i) => `s${start + i}`) },
  ],
  outputs: ['y'],
  rows,
  batchKey: 'k',
});

describe('concatRequests', () => {
  test('concatenates every input along the first dimension, in request order', () => {
    const combined = concatRequests([request(1, 0), request(2, 10)]);
    expect(combined.rows).toBe(3);
    expect(combined.inputs[0].shape).toEqual([3, 2]);
    expect(Array.from(combined.inputs[0].data as Float32Array)).toEqual([0, 1, 10, 11, 12, 13]);
    expect(combined.inputs[1]).toEqual({ name: 's', datatype: 'BYTES', shape: [3], data: ['s0', 's10', 's11'] });
    expect(combined.outputs).toEqual(['y']);
  });

  test('returns a single request unchanged', () => {
    const one = request(2, 0);
    expect(concatRequests([one])).toBe(one);
  });
});

describe('splitOutputs', () => {
  const output = (shape: number[], data: Tensor['data']): Tensor => ({ name: 'y', datatype: 'INT64', shape, data });

  test('gives each request its own rows', () => {
    const parts = splitOutputs([output([3, 2], BigInt64Array.from([1n, 2n, 3n, 4n, 5n, 6n]))], [1, 2]);
    expect(parts[0][0].shape).toEqual([1, 2]);
    expect(Array.from(parts[0][0].data as BigInt64Array)).toEqual([1n, 2n]);
    expect(parts[1][0].shape).toEqual([2, 2]);
    expect(Array.from(parts[1][0].data as BigInt64Array)).toEqual([3n, 4n, 5n, 6n]);
  });

  test('split parts own their buffers (so they can be transferred or kept)', () => {
    const parts = splitOutputs([output([2], BigInt64Array.from([1n, 2n]))], [1, 1]);
    const data = parts[1][0].data as BigInt64Array;
    expect(data.byteOffset).toBe(0);
    expect(data.buffer.byteLength).toBe(8);
  });

  test('refuses an output whose first dimension is not the total rows', () => {
    expect(() => splitOutputs([output([2], new BigInt64Array(2))], [1, 2])).toThrow(InferError);
    expect(() => splitOutputs([output([2], new BigInt64Array(2))], [1, 2])).toThrow(
      /output "y" has shape \[2\], not 3 rows/,
    );
  });
});
