import type { Tensor, TensorData } from '../dataplane/types.js';
import type { DataType } from '../../../contract/metadata.js';
import { encodeTensorBytes } from './binary.js';
import {
  binaryBytes,
  checkResponseSize,
  jsonBytes,
  jsonBytesBound,
  responseTooLarge,
  type ResponseLimit,
} from './limits.js';
import { dataToJson } from './tensors.js';

const jsonLength = (datatype: DataType, data: TensorData): number => Buffer.byteLength(dataToJson(datatype, data));

/** For each type, two elements whose JSON text is the longest the type allows. */
const WORST: [DataType, TensorData][] = [
  ['BOOL', Uint8Array.from([0, 0])],
  ['UINT8', Uint8Array.from([255, 255])],
  ['INT8', Int8Array.from([-128, -128])],
  ['UINT16', Uint16Array.from([65535, 65535])],
  ['INT16', Int16Array.from([-32768, -32768])],
  ['UINT32', Uint32Array.from([4294967295, 4294967295])],
  ['INT32', Int32Array.from([-2147483648, -2147483648])],
  ['UINT64', BigUint64Array.from([2n ** 64n - 1n, 2n ** 64n - 1n])],
  ['INT64', BigInt64Array.from([-(2n ** 63n), -(2n ** 63n)])],
  ['FP64', Float64Array.from([-0.0000051471888582454994, -2.2250738585072014e-308])],
  ['FP32', Float32Array.from([-0.0000051471888582454994, -0.0000051471888582454994])],
  // FP16 travels as its 16 bits: 0x8011 is -0.0000010132789611816406.
  ['FP16', Uint16Array.from([0x8011, 0x8011])],
];

describe('jsonBytesBound', () => {
  it.each(WORST)(
    '%s: one byte over the exact text of two longest elements (the comma the last one lacks)',
    (datatype, data) => {
      expect(jsonBytesBound(datatype, data)).toBeGreaterThanOrEqual(jsonLength(datatype, data) + 1);
      expect(jsonBytesBound(datatype, data)).toBeLessThanOrEqual(jsonLength(datatype, data) + 2);
    },
  );

  it.each([
    ['ASCII', ['abc', '']],
    ['escapes', ['\u0001\u0002"\\']],
    ['non-ASCII', ['ünïcode', '日本', '😀']],
  ])('BYTES with %s: never below the exact text', (_what, data) => {
    expect(jsonBytesBound('BYTES', data)).toBeGreaterThanOrEqual(jsonLength('BYTES', data));
  });
});

describe('jsonBytes', () => {
  const big = Float32Array.from({ length: 4 * 65536 + 3 }, (_, i) => Math.sin(i) * 1e3);
  it.each<[string, DataType, TensorData]>([
    ['empty', 'FP32', new Float32Array(0)],
    ['floats over several chunks', 'FP32', big],
    ['non-finite floats (null in JSON)', 'FP64', Float64Array.from([NaN, 1.5, -Infinity])],
    ['FP16 bits', 'FP16', Uint16Array.from([0x3c00, 0x0001, 0x7c00])],
    ['booleans', 'BOOL', Uint8Array.from([1, 0, 1])],
    ['64-bit integers', 'INT64', BigInt64Array.from([-(2n ** 63n), 0n, 9007199254740993n])],
    ['strings', 'BYTES', ['ünïcode', '"q"', '']],
  ])('%s: exactly the length of dataToJson', (_what, datatype, data) => {
    expect(jsonBytes(datatype, data, Infinity)).toBe(jsonLength(datatype, data));
  });

  it('stops soon after passing stopAbove: over it, far short of the whole text', () => {
    const counted = jsonBytes('FP32', big, 1000);
    expect(counted).toBeGreaterThan(1000);
    expect(counted).toBeLessThan(jsonLength('FP32', big) / 3);
  });
});

describe('binaryBytes', () => {
  it.each<[string, TensorData]>([
    ['FP32', Float32Array.from([1, 2, 3])],
    ['INT64', BigInt64Array.from([1n])],
    ['a subarray', new Float64Array(10).subarray(2, 5)],
    ['BYTES', ['ünïcode', '', 'x']],
  ])('%s: the length encodeTensorBytes gives', (_what, data) => {
    expect(binaryBytes(data)).toBe(encodeTensorBytes(data).length);
  });
});

describe('responseTooLarge', () => {
  const tensor = (name: string, data: TensorData, datatype: DataType = 'FP32'): Tensor => ({
    name,
    datatype,
    shape: [1, data.length],
    data,
  });
  // "[1.5,1.5,1.5,1.5]" is 17 bytes; the worst-case bound for 4 FP32 elements is 102.
  const y = tensor('y', Float32Array.from([1.5, 1.5, 1.5, 1.5]));
  const v2 = (maxBytes: number, binary = false): ResponseLimit => ({
    maxBytes,
    binary: () => binary,
    fewer: 'rows',
    askBinary: 'parameters.binary_data_output: true',
  });

  it.each<[string, Tensor[], ResponseLimit]>([
    ['under the worst-case bound', [y], v2(102)],
    ['over the bound, exactly at the limit when measured', [y], v2(17)],
    ['binary data exactly at the limit', [y], v2(16, true)],
    ['V1, which has no binary outputs', [y], { maxBytes: 17, binary: () => false, fewer: 'instances' }],
  ])('fits: %s', (_what, outputs, limit) => {
    expect(responseTooLarge(outputs, limit)).toBeUndefined();
  });

  it.each<[string, Tensor[], ResponseLimit, string]>([
    [
      'one JSON output a byte over',
      [y],
      v2(16),
      "response too large: output 'y' (FP32 [1,4], 17 bytes as JSON) is over the limit of 16 bytes (MODELSHIP_MAX_RESPONSE_SIZE); send fewer rows or ask for binary outputs (parameters.binary_data_output: true)",
    ],
    [
      'a binary output: no advice to ask for binary',
      [y],
      v2(15, true),
      "response too large: output 'y' (FP32 [1,4], 16 bytes binary) is over the limit of 15 bytes (MODELSHIP_MAX_RESPONSE_SIZE); send fewer rows",
    ],
    [
      'two outputs that fit alone but not together',
      [y, tensor('z', Int32Array.from([7]), 'INT32')],
      v2(18),
      "response too large: outputs 'y' (FP32 [1,4], 17 bytes as JSON) and 'z' (INT32 [1,1], 3 bytes as JSON) are over the limit of 18 bytes (MODELSHIP_MAX_RESPONSE_SIZE); send fewer rows or ask for binary outputs (parameters.binary_data_output: true)",
    ],
    [
      'V1 instances',
      [y],
      { maxBytes: 10, binary: () => false, fewer: 'instances' },
      "response too large: output 'y' (FP32 [1,4], 17 bytes as JSON) is over the limit of 10 bytes (MODELSHIP_MAX_RESPONSE_SIZE); send fewer instances",
    ],
  ])('refuses %s, naming the output, its size and the setting', (_what, outputs, limit, message) => {
    expect(responseTooLarge(outputs, limit)).toBe(message);
    expect(() => checkResponseSize(outputs, limit)).toThrow(
      expect.objectContaining({ kind: 'invalid', message }) as Error,
    );
  });
});
