import { InferError, type TensorData } from '../dataplane/types.js';
import type { DataType } from '../../../contract/metadata.js';
import { decodeTensorBytes, encodeBinaryBody, encodeTensorBytes, splitBody } from './binary.js';

const samples: [DataType, TensorData][] = [
  ['FP32', Float32Array.from([1.5, -2.25, 3.4028234663852886e38, 0])],
  ['FP64', Float64Array.from([Math.PI, -1e-300, 0.1])],
  ['INT8', Int8Array.from([-128, 0, 127])],
  ['UINT8', Uint8Array.from([0, 200, 255])],
  ['INT16', Int16Array.from([-32768, 32767])],
  ['UINT16', Uint16Array.from([65535, 1])],
  ['FP16', Uint16Array.from([0x3c00, 0xc000])],
  ['INT32', Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 7])],
  ['UINT32', Uint32Array.from([2 ** 32 - 1, 0])],
  ['INT64', BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 42n])],
  ['UINT64', BigUint64Array.from([2n ** 64n - 1n, 0n])],
  ['BOOL', Uint8Array.from([1, 0, 1])],
  ['BYTES', ['', 'hello', 'żółw ✓', 'a'.repeat(300)]],
];

describe('tensor bytes', () => {
  it.each(samples)('%s round-trips exactly', (datatype, data) => {
    const bytes = encodeTensorBytes(data);
    const back = decodeTensorBytes('x', datatype, bytes, data.length);
    expect(back).toEqual(data);
    expect(back.constructor).toBe(data.constructor);
  });

  it('writes fixed-size types little-endian', () => {
    expect([...encodeTensorBytes(Int32Array.from([1]))]).toEqual([1, 0, 0, 0]);
    expect([...encodeTensorBytes(Float32Array.from([1]))]).toEqual([0, 0, 0x80, 0x3f]);
  });

  it('writes BYTES elements with a 4-byte little-endian length prefix', () => {
    expect([...encodeTensorBytes(['ab', ''])]).toEqual([2, 0, 0, 0, 97, 98, 0, 0, 0, 0]);
  });

  it('decodes from an unaligned offset inside a larger buffer', () => {
    const payload = encodeTensorBytes(Float64Array.from([1.25, -3]));
    const body = Buffer.concat([Buffer.from([9, 9, 9]), payload]);
    expect(decodeTensorBytes('x', 'FP64', body.subarray(3), 2)).toEqual(Float64Array.from([1.25, -3]));
  });

  it('keeps BYTES elements byte for byte: a leading byte order mark, U+FFFD itself, 4-byte characters', () => {
    const elements = [Buffer.from([0xef, 0xbb, 0xbf, 0x61]), Buffer.from('\uFFFD😀\u2028', 'utf8'), Buffer.alloc(0)];
    const bytes = Buffer.concat(elements.flatMap((e) => [Buffer.from([e.length, 0, 0, 0]), e]));
    const strings = decodeTensorBytes('s', 'BYTES', bytes, 3);
    expect(strings).toEqual(['\ufeffa', '\uFFFD😀\u2028', '']);
    expect(encodeTensorBytes(strings)).toEqual(bytes);
  });

  it.each([
    ['a lone continuation byte', [0x80]],
    ['an invalid byte', [0x61, 0xff]],
    ['a truncated sequence', [0xe2, 0x82]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
  ])('refuses a BYTES element with %s, naming it, rather than altering it', (_what, element) => {
    const bytes = Buffer.concat([encodeTensorBytes(['ok']), Buffer.from([element.length, 0, 0, 0, ...element])]);
    expect(() => decodeTensorBytes('s', 'BYTES', bytes, 2)).toThrow(/input 's': BYTES element 1 is not valid UTF-8/);
  });

  it('normalises BOOL bytes to 0/1', () => {
    expect(decodeTensorBytes('b', 'BOOL', Uint8Array.from([0, 2, 255]), 3)).toEqual(Uint8Array.from([0, 1, 1]));
  });

  it.each([
    ['FP32', Buffer.alloc(7), 2, /input 'x': FP32 shape needs 2 elements = 8 bytes, binary data has 7/],
    ['INT64', Buffer.alloc(16), 1, /needs 1 elements = 8 bytes, binary data has 16/],
    ['BYTES', Buffer.from([5, 0, 0, 0, 97]), 1, /declares 5 bytes but only 1 remain/],
    ['BYTES', Buffer.from([1, 0]), 1, /truncated 4-byte length prefix/],
    ['BYTES', encodeTensorBytes(['a', 'b']), 3, /shape needs 3 BYTES elements, binary data has 2/],
  ] as [DataType, Buffer, number, RegExp][])(
    'rejects %s data that does not fit: %#',
    (datatype, bytes, count, message) => {
      expect(() => decodeTensorBytes('x', datatype, bytes, count)).toThrow(message);
      expect(() => decodeTensorBytes('x', datatype, bytes, count)).toThrow(InferError);
    },
  );
});

describe('binary bodies', () => {
  it('splits at the declared header length', () => {
    const { body, headerLength } = encodeBinaryBody('{"a":1}', [Buffer.from([1, 2]), Buffer.from([3])]);
    expect(headerLength).toBe(7);
    const { header, data } = splitBody(body, String(headerLength));
    expect(header.toString()).toBe('{"a":1}');
    expect([...data]).toEqual([1, 2, 3]);
  });

  it('counts the header in bytes, not characters', () => {
    expect(encodeBinaryBody('{"é":1}', []).headerLength).toBe(8);
  });

  it.each([
    ['abc', /must be a non-negative integer/],
    ['-1', /must be a non-negative integer/],
    ['1.5', /must be a non-negative integer/],
    ['11', /is 11 but the body has only 10 bytes/],
  ])('rejects header length %s', (value, message) => {
    expect(() => splitBody(Buffer.alloc(10), value)).toThrow(message);
  });
});
