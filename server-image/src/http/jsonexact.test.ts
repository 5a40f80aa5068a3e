import { exactJsonInteger, literalInteger, needsExactInteger, parseJsonExact } from './jsonexact.js';

describe('literalInteger', () => {
  it.each([
    ['0', 0n],
    ['-0', 0n],
    ['0.000', 0n],
    ['10.0', 10n],
    ['1e3', 1000n],
    ['1E+3', 1000n],
    ['12.5e1', 125n],
    ['1500e-2', 15n],
    ['9007199254740993', 9007199254740993n],
    ['9.007199254740993e15', 9007199254740993n],
    ['-9223372036854775808', -(2n ** 63n)],
    ['18446744073709551615', 2n ** 64n - 1n],
    ['99999999999999999999', 10n ** 20n - 1n],
  ])('%s is the integer %s', (text, want) => expect(literalInteger(text)).toBe(want));

  it.each([
    '1.5',
    '1e-3',
    '9007199254740993.5',
    '1.0000000000000000001',
    '100000000000000000000',
    '1e20',
    '1e400',
    '1e99999999999999999999',
    '',
    'x',
    '01x',
  ])('%s is not an integer of at most 20 digits', (text) => expect(literalInteger(text)).toBeUndefined());
});

describe('needsExactInteger', () => {
  it.each([
    [2 ** 53, true],
    [-(2 ** 63), true],
    [2 ** 64, true],
    [2 ** 53 - 1, false],
    [2 ** 64 + 4096, false],
    [1e300, false],
    [2 ** 53 + 0.5, true], // not a double: 2^53 + 0.5 rounds to 2^53
    [0.5, false],
    [Infinity, false],
    [NaN, false],
  ])('%d → %s', (value, want) => expect(needsExactInteger(value)).toBe(want));
});

describe('parseJsonExact', () => {
  it('reads integer literals beyond 2^53 as exact bigints, everything else as JSON.parse does', () => {
    const text =
      '{"a":[9007199254740993,9007199254740991,1.5,1e300,"9007199254740993",[18446744073709551615]],"b":9223372036854775807}';
    expect(parseJsonExact(text, false)).toEqual({
      a: [9007199254740993n, 9007199254740991, 1.5, 1e300, '9007199254740993', [2n ** 64n - 1n]],
      b: 2n ** 63n - 1n,
    });
    // Only array elements: an object's member (a parameter, say) stays JSON.parse's number.
    expect(parseJsonExact(text, true)).toEqual({
      a: [9007199254740993n, 9007199254740991, 1.5, 1e300, '9007199254740993', [2n ** 64n - 1n]],
      b: 2 ** 63,
    });
  });

  it('keeps a literal that is not exactly an integer as JSON.parse reads it', () => {
    expect(parseJsonExact('[9007199254740993.5,1e19]', true)).toEqual([9007199254740994, 10n ** 19n]);
  });

  it('is JSON.parse, errors included, for text without such integers', () => {
    expect(parseJsonExact('{"x":[1,2.5,-3,1e300,"12345678901234567890"]}', true)).toEqual({
      x: [1, 2.5, -3, 1e300, '12345678901234567890'],
    });
    expect(() => parseJsonExact('{"x":[1,', true)).toThrow(SyntaxError);
    expect(() => parseJsonExact('{"x":[12345678901234567890,', true)).toThrow(SyntaxError);
  });

  it('finds such integers however deep, in arrays of objects, and at the top level', () => {
    let deep: unknown = [9007199254740993n];
    let text = '[9007199254740993]';
    for (let i = 0; i < 100; i++) text = `[${text}]`;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(parseJsonExact(text, true)).toEqual(deep);
    // Without a reviver JSON.parse reads any nesting; with one it recurses, so absurd nesting is refused.
    const absurd = `${'['.repeat(100_000)}9007199254740993${']'.repeat(100_000)}`;
    expect(() => parseJsonExact(absurd, true)).toThrow(
      /^JSON nested too deeply to read its integers beyond 2\^53 exactly$/,
    );
    expect(parseJsonExact(`${'['.repeat(100_000)}1${']'.repeat(100_000)}`, true)).toEqual(expect.any(Array));
    expect(parseJsonExact('[{"k":9007199254740993},{"k":[9007199254740993]}]', false)).toEqual([
      { k: 9007199254740993n },
      { k: [9007199254740993n] },
    ]);
    expect(parseJsonExact('9007199254740993', false)).toBe(9007199254740993n);
    expect(parseJsonExact('9007199254740993', true)).toBe(2 ** 53);
  });
});

describe('exactJsonInteger', () => {
  it.each([
    [0n, '0'],
    [-(2n ** 53n) + 1n, '-9007199254740991'],
    [2n ** 53n, '9007199254740992'],
    [2n ** 53n + 1n, '9007199254740993'],
    [-(2n ** 63n), '-9223372036854775808'],
    [2n ** 64n - 1n, '18446744073709551615'],
  ])('%s is written as %s', (value, text) => expect(JSON.stringify([exactJsonInteger(value)])).toBe(`[${text}]`));
});
