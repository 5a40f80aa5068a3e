import { concatData, containerNameOf, dataMatchesType, dataTypeOfOrt, ortTypeOf, zeros } from './dtypes.js';
import { forPosting } from './protocol.js';
import type { Tensor, TensorData } from './types.js';
import type { DataType } from '../../../contract/metadata.js';

const samples: [DataType, string, TensorData][] = [
  ['BOOL', 'bool', Uint8Array.from([0, 1])],
  ['UINT8', 'uint8', Uint8Array.from([1, 2])],
  ['UINT16', 'uint16', Uint16Array.from([1, 2])],
  ['UINT32', 'uint32', Uint32Array.from([1, 2])],
  ['UINT64', 'uint64', BigUint64Array.from([1n, 2n])],
  ['INT8', 'int8', Int8Array.from([-1, 2])],
  ['INT16', 'int16', Int16Array.from([-1, 2])],
  ['INT32', 'int32', Int32Array.from([-1, 2])],
  ['INT64', 'int64', BigInt64Array.from([-1n, 2n])],
  ['FP16', 'float16', Uint16Array.from([0x3c00, 0x4000])],
  ['FP32', 'float32', Float32Array.from([1.5, 2])],
  ['FP64', 'float64', Float64Array.from([1.5, 2])],
  ['BYTES', 'string', ['a', 'b']],
];

describe('datatype mapping', () => {
  test.each(samples)('%s ↔ %s, with its container', (datatype, ort, data) => {
    expect(ortTypeOf(datatype)).toBe(ort);
    expect(dataTypeOfOrt(ort)).toBe(datatype);
    expect(dataMatchesType(datatype, data)).toBe(true);
    expect(containerNameOf(zeros(datatype, 3))).toBe(containerNameOf(data));
    expect(zeros(datatype, 3)).toHaveLength(3);
    const joined = concatData(datatype, [data, data]);
    expect(Array.from(joined as ArrayLike<unknown>)).toEqual([
      ...Array.from(data as ArrayLike<unknown>),
      ...Array.from(data as ArrayLike<unknown>),
    ]);
  });

  test('types onnxruntime has but we do not serve map to undefined', () => {
    expect(dataTypeOfOrt('int4')).toBeUndefined();
  });

  test('the wrong container is refused', () => {
    expect(dataMatchesType('INT64', new Int32Array(2))).toBe(false);
    expect(dataMatchesType('FP32', [1, 2])).toBe(false);
    expect(dataMatchesType('BYTES', ['a', 3])).toBe(false);
    expect(dataMatchesType('UINT64', new BigInt64Array(1))).toBe(false);
  });
});

describe('forPosting', () => {
  const tensor = (data: TensorData): Tensor => ({ name: 't', datatype: 'FP32', shape: [data.length], data });

  test('transfers whole buffers the sender owns', () => {
    const data = new Float32Array(4);
    const { tensors, transfer } = forPosting([tensor(data)], true);
    expect(tensors[0].data).toBe(data);
    expect(transfer).toEqual([data.buffer]);
  });

  test("clones (does not transfer) a caller's whole buffer", () => {
    const data = new Float32Array(4);
    const { tensors, transfer } = forPosting([tensor(data)], false);
    expect(tensors[0].data).toBe(data);
    expect(transfer).toEqual([]);
  });

  test('copies a view out of a larger buffer, so only its bytes travel', () => {
    const body = new ArrayBuffer(1024);
    const view = new Float32Array(body, 16, 4);
    view.set([1, 2, 3, 4]);
    const { tensors, transfer } = forPosting([tensor(view)], false);
    const posted = tensors[0].data as Float32Array;
    expect(Array.from(posted)).toEqual([1, 2, 3, 4]);
    expect(posted.buffer.byteLength).toBe(16);
    expect(transfer).toEqual([posted.buffer]);
  });

  test('a buffer shared by two tensors is transferred once; the second travels as its own copy', () => {
    const data = new Float32Array(4);
    const { transfer } = forPosting([tensor(data), tensor(data)], true);
    expect(transfer).toHaveLength(2);
    expect(new Set(transfer).size).toBe(2);
  });

  test('BYTES pass as they are', () => {
    const t: Tensor = { name: 's', datatype: 'BYTES', shape: [1], data: ['x'] };
    expect(forPosting([t], true)).toEqual({ tensors: [t], transfer: [] });
  });
});
