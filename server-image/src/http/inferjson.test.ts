import { mulberry32 } from '../../test/helpers/random.js';
import { numberArrayAt, parseInferJson } from './inferjson.js';

const body = (text: string): Buffer => Buffer.from(text, 'utf8');
const withData = (data: string): string => `{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":${data}}]}`;

/** What parseInferJson must return: JSON.parse's value, with number-only `data` flattened into a Float64Array. */
function expected(text: string): unknown {
  const value = JSON.parse(text) as { inputs: { data: unknown }[] };
  for (const input of value.inputs)
    input.data = Float64Array.from((input.data as unknown[]).flat(Infinity) as number[]);
  return value;
}

describe('parseInferJson', () => {
  it.each([
    ['short decimals', '[0.6371,0.9659,-0.0633]'],
    ['integers and zeros', '[0,-0,7,-12,0.0,-0.000]'],
    ['exponents', '[1e5,1.5E-3,-2e+2,0e99,1e400,1e-400]'],
    ['more digits than a double holds exactly', '[0.1000000000000000055511151231257827,123456789012345678901]'],
    [
      'digits either side of 2^53',
      '[9007199254740991,-9007199254740991,900719925474099.3,0.9007199254740993,-0.09007199254740991]',
    ],
    ['integers past 2^64, where every datatype ends', '[18446744073709559999,1e20,-1e300]'],
    ['small fractions with many leading zeros', '[0.000000000000000000000001234,0.00001]'],
    ['whitespace everywhere', '[ 1 ,\n\t2.5\r\n ]'],
    ['nested rows', '[[1,2],[3,[4]],[]]'],
    ['only empty arrays', '[[],[[]]]'],
  ])('reads %s exactly as JSON.parse does', (_what, data) => {
    const text = withData(data);
    expect(parseInferJson(body(text))).toEqual(expected(text));
    const values = (parseInferJson(body(text)) as { inputs: { data: Float64Array }[] }).inputs[0].data;
    (expected(text) as { inputs: { data: Float64Array }[] }).inputs[0].data.forEach((v, i) =>
      expect(Object.is(values[i], v)).toBe(true),
    );
  });

  it('reads integers between 2^53 and 2^64 exactly, as bigints, from whatever spelling', () => {
    const text = withData(
      '[[9007199254740993,-9223372036854775808],[18446744073709551615,1.5],[9.007199254740993e15,1e19],[9007199254740993.5,9007199254740992.0]]',
    );
    const data = (parseInferJson(body(text)) as { inputs: { data: unknown[] }[] }).inputs[0].data;
    expect(data).toEqual([
      [9007199254740993n, -9223372036854775808n],
      [18446744073709551615n, 1.5],
      [9007199254740993n, 10n ** 19n],
      [9007199254740994, 9007199254740992n],
    ]);
  });

  it('reads 20000 random numbers in every JSON spelling to the same values as JSON.parse, integers between 2^53 and 2^64 exact', () => {
    const next = mulberry32(20261121);
    const spellings = [
      () => (next() * 10).toFixed(Math.floor(next() * 9)),
      () => String(next()),
      () => String((next() - 0.5) * 1e300),
      () => (next() - 0.5).toExponential(Math.floor(next() * 17)),
      () => String(Math.floor(next() * 1e17)),
      () => `0.${'0'.repeat(Math.floor(next() * 25))}${Math.floor(next() * 1e6)}`,
      () => `${Math.floor(next() * 1e6)}e${Math.floor(next() * 60) - 30}`,
      () => `-${(next() * 1e6).toFixed(Math.floor(next() * 12))}`,
    ];
    const numbers = Array.from({ length: 20000 }, (_, i) => spellings[i % spellings.length]());
    const text = withData(`[${numbers.join(',')}]`);
    const got = (parseInferJson(body(text)) as { inputs: { data: ArrayLike<number | bigint> }[] }).inputs[0].data;
    const want = (JSON.parse(text) as { inputs: { data: number[] }[] }).inputs[0].data;
    // The integer a spelling above denotes, worked out from its text alone.
    const integerOf = (text: string): bigint | undefined => {
      const m = /^(-?\d+)(?:e(\d+))?$/.exec(text);
      return m === null ? undefined : BigInt(m[1]) * 10n ** BigInt(m[2] ?? 0);
    };
    const differing = want.flatMap((v, i) => {
      const g = got[i];
      const integer = integerOf(numbers[i]);
      // Same double as JSON.parse; and up to 2^64 an integer literal is read as exactly that integer.
      const same = typeof g === 'bigint' ? Number(g) === v : Object.is(g, v);
      const exact =
        integer === undefined || Math.abs(v) > 2 ** 64 || (typeof g === 'bigint' ? g : BigInt(g)) === integer;
      return same && exact ? [] : [`${numbers[i]}: ${g} != ${v}`];
    });
    expect(differing).toEqual([]);
  });

  it.each([
    ['booleans', '[true,false]'],
    ['strings', '["a","b"]'],
    ['null', '[null,1]'],
    ['a number then a string', '[1,"2"]'],
  ])('leaves data with %s to JSON.parse, as plain arrays', (_what, data) => {
    const text = withData(data);
    expect(parseInferJson(body(text))).toEqual(JSON.parse(text));
  });

  it('leaves data nested deeper than 32 levels as JSON.parse builds it', () => {
    const text = withData(`${'['.repeat(40)}1${']'.repeat(40)}`);
    expect(parseInferJson(body(text))).toEqual(JSON.parse(text));
  });

  it('reads only inputs[i].data: outputs, parameters and strings that look like data are untouched', () => {
    const text =
      '{"id":"\\"data\\":[1,2]","parameters":{"data":1},"data":[5],' +
      '"inputs":[{"name":"a","data":[1,2]},7,{"name":"b","parameters":{"data":[3]},"data":[[4],[5]]}],' +
      '"outputs":[{"name":"y","data":[6]}]}';
    const got = parseInferJson(body(text)) as Record<string, unknown> & {
      inputs: [{ data: unknown }, number, { data: unknown; parameters: unknown }];
    };
    const want = JSON.parse(text) as typeof got;
    expect(got.inputs[0].data).toEqual(Float64Array.from([1, 2]));
    expect(got.inputs[1]).toBe(7);
    expect(got.inputs[2].data).toEqual(Float64Array.from([4, 5]));
    expect(got.inputs[2].parameters).toEqual({ data: [3] });
    expect(got.id).toBe(want.id);
    expect(got.data).toEqual([5]);
    expect(got.outputs).toEqual(want.outputs);
  });

  it('keeps what JSON.parse keeps when keys repeat', () => {
    const lastWins = '{"inputs":[{"data":[1,2],"data":[3]}]}';
    expect(parseInferJson(body(lastWins))).toEqual({ inputs: [{ data: Float64Array.from([3]) }] });
    const laterPlainArray = '{"inputs":[{"data":[1,2],"data":[true]}]}';
    expect(parseInferJson(body(laterPlainArray))).toEqual({ inputs: [{ data: [true] }] });
    const laterInputs = '{"inputs":[{"data":[1]}],"inputs":[{"name":"z"},{"data":[2]}]}';
    expect(parseInferJson(body(laterInputs))).toEqual({ inputs: [{ name: 'z' }, { data: Float64Array.from([2]) }] });
    const escapedKey = '{"inputs":[{"data":[1,2],"d\\u0061ta":[3]}]}';
    expect(parseInferJson(body(escapedKey))).toEqual(JSON.parse(escapedKey));
  });

  it('reads a huge request, then small ones, correctly (the grown space is dropped, not reused stale)', () => {
    const huge = Array.from({ length: 200_000 }, (_, i) => i % 97);
    const hugeText = withData(JSON.stringify(huge));
    expect(parseInferJson(body(hugeText))).toEqual(expected(hugeText));
    const small = withData('[0.5,0.25]');
    expect(parseInferJson(body(small))).toEqual(expected(small));
    expect(parseInferJson(body(small))).toEqual(expected(small));
  });

  it('keeps non-ASCII text around the data intact', () => {
    const text = '{"id":"größe ✓","inputs":[{"name":"ä","data":[1.5]}]}';
    expect(parseInferJson(body(text))).toEqual(expected(text));
  });

  it.each([
    ['an unclosed body', '{"inputs":[{"data":[1,2]}]'],
    ['a trailing comma in data', withData('[1,2,]')],
    ['a leading zero', withData('[01]')],
    ['a bare minus', withData('[-]')],
    ['a dot without digits', withData('[1.]')],
    ['an exponent without digits', withData('[1e]')],
    ['NaN', withData('[NaN]')],
    ['text after the body', `${withData('[1,2]')} x`],
    ['an unterminated string', '{"inputs":[{"data":[1],"name":"x}]}'],
  ])('refuses %s with the error JSON.parse gives', (_what, text) => {
    let want = '';
    try {
      JSON.parse(text);
    } catch (err) {
      want = (err as Error).message;
    }
    expect(want).not.toBe('');
    expect(() => parseInferJson(body(text))).toThrow(new SyntaxError(want));
  });
});

describe('numberArrayAt', () => {
  it('reports where the array ends', () => {
    const text = body('xx[1, [2]] ,');
    const got = numberArrayAt(text, 2);
    expect(got?.values).toEqual(Float64Array.from([1, 2]));
    expect(got?.end).toBe(10);
  });

  it('grows past its first 1024 numbers', () => {
    const numbers = Array.from({ length: 5000 }, (_, i) => i / 8);
    expect(numberArrayAt(body(JSON.stringify(numbers)), 0)?.values).toEqual(Float64Array.from(numbers));
  });

  it.each(['[1', '[1 2]', '[', '[1]]'.slice(0, 2), '[1,9007199254740993]', '[1e16]'])('gives up on %s', (text) =>
    expect(numberArrayAt(body(text), 0)).toBeUndefined(),
  );
});
