import type { TensorData } from '../dataplane/types.js';
import {
  dataToJson,
  describeValue,
  flatten,
  halfToNumber,
  rowToJsonValue,
  tensorToJsonValue,
  typedFromJson,
} from './tensors.js';

describe('flatten', () => {
  it('flattens nested arrays row-major and leaves flat ones alone', () => {
    const flat = [1, 2, 3];
    expect(flatten('t', flat)).toBe(flat);
    expect(flatten('t', [[[1, 2], [3]], [4]])).toEqual([1, 2, 3, 4]);
    expect(flatten('t', [[], [1], [[]]])).toEqual([1]);
  });

  it('refuses nesting deeper than 32 levels without exhausting the stack', () => {
    let deep: unknown[] = [1];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => flatten('t', deep)).toThrow(/tensor 't': data nested deeper than 32 levels/);
  });
});

describe('typedFromJson', () => {
  it.each([
    ['INT8', [-128, 127], Int8Array.from([-128, 127])],
    ['UINT8', [0, 255], Uint8Array.from([0, 255])],
    ['INT16', [-32768], Int16Array.from([-32768])],
    ['UINT16', [65535], Uint16Array.from([65535])],
    ['UINT32', [4294967295], Uint32Array.from([4294967295])],
    ['UINT64', [5], BigUint64Array.from([5n])],
  ] as const)('%s', (datatype, values, expected) => expect(typedFromJson('t', datatype, values)).toEqual(expected));

  it.each([
    ['INT8', [128]],
    ['UINT8', [-1]],
    ['UINT64', [-1]],
    ['FP32', [null]],
    ['BOOL', ['true']],
  ] as const)('rejects %s %j', (datatype, values) =>
    expect(() => typedFromJson('t', datatype, values)).toThrow(/tensor 't': element 0/),
  );

  it('asks for FP16 as binary', () =>
    expect(() => typedFromJson('h', 'FP16', [1])).toThrow(/FP16 is accepted only as binary data/));

  it.each([
    [
      'INT64',
      [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -(2 ** 53) + 1, 0],
      BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -(2n ** 53n) + 1n, 0n]),
    ],
    ['UINT64', [2n ** 64n - 1n, 2 ** 53 - 1], BigUint64Array.from([2n ** 64n - 1n, 2n ** 53n - 1n])],
    ['FP64', [2n ** 53n + 1n, 1.5], Float64Array.from([2 ** 53, 1.5])],
  ] as const)('%s takes exact bigints (integers beyond 2^53) and safe integers', (datatype, values, expected) =>
    expect(typedFromJson('t', datatype, values)).toEqual(expected),
  );

  it.each([
    [
      'INT64',
      [1, 2n ** 63n],
      /tensor 't': element 1 is 9223372036854775808, expected an integer in \[-9223372036854775808, 9223372036854775807\] for INT64/,
    ],
    ['INT64', [-(2n ** 63n) - 1n], /element 0 is -9223372036854775809/],
    [
      'UINT64',
      [2n ** 64n],
      /element 0 is 18446744073709551616, expected an integer in \[0, 18446744073709551615\] for UINT64/,
    ],
    ['UINT64', [-1n], /element 0 is -1/],
    ['INT64', [2 ** 53], /element 0 is 9007199254740992/], // a double there was not an exact integer literal
    ['INT64', [1.5], /element 0 is 1.5/],
    ['INT64', [Infinity], /element 0 is Infinity/],
    ['INT32', [5n], /element 0 is 5, expected an integer in/],
    ['BOOL', [1n], /element 0 is 1, expected true or false/],
  ] as const)('refuses %s %s naming the element', (datatype, values, message) =>
    expect(() => typedFromJson('t', datatype, values)).toThrow(message),
  );

  it('refuses a BYTES string with a lone surrogate, which UTF-8 cannot encode, naming the element', () => {
    expect(typedFromJson('s', 'BYTES', ['ok', '😀', '\ufeff'])).toEqual(['ok', '😀', '\ufeff']);
    expect(() => typedFromJson('s', 'BYTES', ['ok', 'a\ud800'])).toThrow(
      /tensor 's': element 1 is a string with a lone UTF-16 surrogate/,
    );
    expect(() => typedFromJson('s', 'BYTES', ['\udc00'])).toThrow(/element 0/);
  });
});

describe('dataToJson', () => {
  it.each([
    ['FP64', Float64Array.from([0.1, -2]), '[0.1,-2]'],
    ['FP32', Float32Array.from([Infinity, 1]), '[null,1]'],
    ['UINT64', BigUint64Array.from([18446744073709551615n]), '[18446744073709551615]'],
    ['BOOL', Uint8Array.from([0, 1]), '[false,true]'],
    ['FP16', Uint16Array.from([0x3c00, 0xc100, 0x0001]), `[1,-2.5,${2 ** -24}]`],
    ['BYTES', ['a', '\n'], '["a","\\n"]'],
  ] as const)('%s', (datatype, data, text) => expect(dataToJson(datatype, data as TensorData)).toBe(text));
});

describe('rowToJsonValue', () => {
  const data = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
  it('nests a row by the trailing dimensions', () => {
    expect(rowToJsonValue('FP32', data, [2, 2, 2], 1)).toEqual([
      [4, 5],
      [6, 7],
    ]);
    expect(rowToJsonValue('FP32', data, [8], 3)).toBe(3);
    expect(rowToJsonValue('BOOL', Uint8Array.from([1, 0]), [2], 1)).toBe(false);
  });

  it('writes FP16 as the numbers its bits encode, not the bits', () => {
    expect(rowToJsonValue('FP16', Uint16Array.from([0x3c00, 0xc100, 0x7c00, 0x3e00]), [2, 2], 0)).toEqual([1, -2.5]);
    expect(rowToJsonValue('FP16', Uint16Array.from([0x3c00, 0xc100, 0x7c00, 0x3e00]), [2, 2], 1)).toEqual([null, 1.5]);
  });

  it('writes 64-bit integers exactly', () => {
    const big = BigInt64Array.from([-(2n ** 63n), 2n ** 53n + 1n, 2n ** 63n - 1n, 7n]);
    expect(JSON.stringify(rowToJsonValue('INT64', big, [2, 2], 0))).toBe('[-9223372036854775808,9007199254740993]');
    expect(JSON.stringify(rowToJsonValue('INT64', big, [2, 2], 1))).toBe('[9223372036854775807,7]');
    expect(JSON.stringify(rowToJsonValue('UINT64', BigUint64Array.from([2n ** 64n - 1n]), [1], 0))).toBe(
      '18446744073709551615',
    );
  });
});

describe('tensorToJsonValue', () => {
  it('nests a whole tensor by its shape, a scalar as a bare value', () => {
    expect(tensorToJsonValue('FP32', Float32Array.from([21]), [])).toBe(21);
    expect(tensorToJsonValue('FP32', Float32Array.from([0, 1, 2, 3, 4, 5]), [2, 3])).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(JSON.stringify(tensorToJsonValue('UINT64', BigUint64Array.from([2n ** 64n - 1n]), []))).toBe(
      '18446744073709551615',
    );
  });
});

describe('halfToNumber', () => {
  it.each([
    [0x0000, 0],
    [0x3c00, 1],
    [0x7bff, 65504],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ])('%i', (bits, value) => expect(halfToNumber(bits)).toBe(value));
  it('NaN', () => expect(halfToNumber(0x7e00)).toBeNaN());
});

describe('describeValue', () => {
  it.each([
    ['x', '"x"'],
    ['y'.repeat(50), `"${'y'.repeat(40)}…"`],
    [[1, 2, 3], 'an array of 3'],
    [{ a: 1 }, 'an object'],
    [null, 'null'],
    [undefined, 'undefined'],
    [2.5, '2.5'],
    [2n ** 64n, '18446744073709551616'],
    [true, 'true'],
  ])('%j → %s', (value, text) => expect(describeValue(value)).toBe(text));
});
