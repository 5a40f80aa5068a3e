/**
 * Exact integers in JSON, both ways. JSON.parse reads every number as a double, so an INT64 of
 * 9007199254740993 (2^53 + 1) would arrive as 9007199254740992 and 2^63 - 1 as 2^63, out of range.
 * Reading, an integer literal whose value a double cannot hold exactly comes back as a bigint with
 * the literal's exact value, taken from its source text (the JSON.parse reviver's
 * `context.source`); every other value is JSON.parse's own. Writing, a bigint beyond the doubles'
 * exact range becomes the raw JSON number text (`JSON.rawJSON`). Pure functions.
 */

/** JSON.parse with the reviver's third argument, the value's source text (in Node 26; not yet in TypeScript's lib). */
const parseWithSource = JSON.parse as (
  text: string,
  reviver: (this: unknown, key: string, value: unknown, context: { source?: string }) => unknown,
) => unknown;
/** JSON.rawJSON (in Node 26; not yet in TypeScript's lib): JSON.stringify writes its text as is. */
const rawJSON = (JSON as unknown as { rawJSON(text: string): object }).rawJSON;

/** 2^64 - 1, the widest integer datatype's largest value, has 20 digits. */
const MAX_DIGITS = 20;

/**
 * Whether a double read from a JSON number may differ from the integer its literal denotes in a
 * way a tensor would notice: it is an integer beyond 2^53 (where doubles skip integers) but not
 * beyond 2^64 (past every integer datatype, where a double is as good as the literal).
 */
export function needsExactInteger(value: number): boolean {
  // Magnitude first: for the numbers of ordinary tensors, two comparisons answer.
  return (
    (value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER) &&
    value <= 2 ** 64 &&
    value >= -(2 ** 64) &&
    Number.isInteger(value)
  );
}

const LITERAL = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * The integer a JSON number literal denotes exactly: `10.0`, `1e3` and `9007199254740993` are
 * integers, `1.5` and `1e-3` are not (undefined). An integer of more than 20 digits (`1e30`) is
 * undefined too: it is beyond every integer datatype, and a double reads it as well as anything.
 */
export function literalInteger(text: string): bigint | undefined {
  const m = LITERAL.exec(text);
  if (m === null) return undefined;
  const [, sign, whole, fraction = '', exponent = '0'] = m;
  const digits = (whole + fraction).replace(/^0+/, '');
  if (digits === '') return 0n;
  const significant = digits.replace(/0+$/, '');
  // value = significant × 10^scale, and `significant` ends in a non-zero digit, so the value is an
  // integer exactly when scale ≥ 0. Number(exponent) of an absurd exponent is still ordered right.
  const scale = Number(exponent) - fraction.length + (digits.length - significant.length);
  if (scale < 0 || significant.length + scale > MAX_DIGITS) return undefined;
  const value = BigInt(significant) * 10n ** BigInt(scale);
  return sign === '-' ? -value : value;
}

/**
 * Whether a parsed JSON value holds a number that needsExactInteger (with `onlyInArrays`, as an
 * array's element). Iterative, so any nesting JSON.parse accepts is walked without recursion.
 */
function holdsInexactInteger(value: unknown, onlyInArrays: boolean): boolean {
  if (typeof value === 'number') return !onlyInArrays && needsExactInteger(value);
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    const inArray = Array.isArray(v);
    if (!inArray && (typeof v !== 'object' || v === null)) continue;
    const items: unknown[] = inArray ? v : Object.values(v);
    const checked = inArray || !onlyInArrays;
    for (let i = 0; i < items.length; i++) {
      const x = items[i];
      if (typeof x === 'number') {
        if (checked && needsExactInteger(x)) return true;
      } else if (typeof x === 'object' && x !== null) stack.push(x);
    }
  }
  return false;
}

/**
 * JSON.parse(text), except that an integer literal whose double needsExactInteger comes back as a
 * bigint holding it exactly. With `onlyInArrays`, only elements of arrays are read so (tensor data;
 * not parameters, whose values must stay JSON.parse's numbers). A number literal that is not
 * exactly an integer stays JSON.parse's number, whatever its value. A reviver makes JSON.parse some
 * fifty times slower (measured on Node 26), so the text is parsed again with one only when the
 * plain parse shows a number that needs it.
 */
export function parseJsonExact(text: string, onlyInArrays: boolean): unknown {
  const plain: unknown = JSON.parse(text);
  if (!holdsInexactInteger(plain, onlyInArrays)) return plain;
  try {
    return parseWithSource(text, function (this: unknown, _key, value, context) {
      if (typeof value !== 'number' || !needsExactInteger(value)) return value;
      if (onlyInArrays && !Array.isArray(this)) return value;
      return literalInteger(context.source ?? '') ?? value;
    });
  } catch (err) {
    // JSON.parse recurses where a reviver is given: absurd nesting exhausts the stack.
    if (err instanceof RangeError)
      throw new SyntaxError('JSON nested too deeply to read its integers beyond 2^53 exactly', { cause: err });
    throw err;
  }
}

/** A JSON value for JSON.stringify that writes `value` exactly: a number while a double holds it. */
export function exactJsonInteger(value: bigint): number | object {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : rawJSON(value.toString());
}
