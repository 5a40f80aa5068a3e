/**
 * JSON.parse for V2 infer bodies, faster where the cost is: the numbers in `inputs[i].data`.
 * Profiled on the MLP (784 floats a request), JSON.parse turning decimal text into a JS array was
 * the largest single cost on the main thread, which bounds throughput. Here one pass over the bytes
 * finds each input's `data` array; one that holds only JSON numbers (nested arrays allowed) is read
 * straight into a Float64Array and the rest of the body, with `null` in its place, goes to
 * JSON.parse. Anything else (strings, booleans, escaped keys, malformed text) is left to JSON.parse
 * itself, and a body that JSON.parse refuses is refused with JSON.parse's own error. The values
 * are exactly JSON.parse's: the fast decimal conversion is used only where it is exact (see
 * numberArrayAt), otherwise Number() converts the text as JSON.parse would. The one exception is
 * an integer beyond 2^53 in `data`, which a double may not hold: an array with one is left to
 * parseJsonExact, which reads it as an exact bigint.
 */
import { needsExactInteger, parseJsonExact } from './jsonexact.js';
import { MAX_DEPTH } from './tensors.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Reused output space for numbers (grown on demand); every result is copied out of it. */
let scratch = new Float64Array(1024);
/** Beyond this many numbers the grown space is dropped after use: one huge request must not pin its size. */
const SCRATCH_KEPT = 1 << 16;

/** 10^0 .. 10^22: every one an exact double, so one division by it rounds once. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

const isWhitespace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;

/** Where the number numberAt last read ends (a result slot, so reading a number allocates nothing). */
let numberEnd = 0;

/**
 * The JSON number starting at `start`, with its end in numberEnd; NaN (which JSON cannot express)
 * if the text there is not a JSON number. The general case: exponents, many digits.
 */
function numberAt(b: Uint8Array, start: number): number {
  let i = start;
  if (b[i] === MINUS) i++;
  if (i >= b.length || !isDigit(b[i])) return NaN;
  if (b[i] === ZERO) i++;
  else while (i < b.length && isDigit(b[i])) i++;
  if (i < b.length && b[i] === DOT) {
    i++;
    if (i >= b.length || !isDigit(b[i])) return NaN;
    while (i < b.length && isDigit(b[i])) i++;
  }
  if (i < b.length && (b[i] === LOWER_E || b[i] === UPPER_E)) {
    i++;
    if (i < b.length && (b[i] === MINUS || b[i] === PLUS)) i++;
    if (i >= b.length || !isDigit(b[i])) return NaN;
    while (i < b.length && isDigit(b[i])) i++;
  }
  numberEnd = i;
  // The text is a JSON number, so also a JS numeric literal that Number() rounds as JSON.parse does.
  return Number(Buffer.from(b.buffer, b.byteOffset + start, i - start).toString('latin1'));
}

/**
 * The numbers of the JSON array starting at `start` (a '['), nested arrays flattened in row-major
 * order, and where the array ends; undefined unless the array holds only numbers and arrays,
 * nests at most MAX_DEPTH levels, and is well-formed; undefined also when a number's double
 * needsExactInteger (only its text says which integer it is).
 *
 * A number without an exponent whose digits, read as an integer, stay below 2^53 (so exact) is that
 * integer divided by a power of ten of at most 10^22 (exact too), so the one rounding of the
 * division gives the correctly rounded double (Clinger's fast path), as JSON.parse does.
 * Any other number goes to numberAt. The loop is written flat because it runs once per byte of
 * the body's numbers.
 */
export function numberArrayAt(b: Uint8Array, start: number): { values: Float64Array; end: number } | undefined {
  const n = b.length;
  let i = start;
  let depth = 0;
  let count = 0;
  for (;;) {
    // A value is expected at i.
    while (i < n && isWhitespace(b[i])) i++;
    if (i >= n) return undefined;
    let c = b[i];
    if (c === LBRACKET) {
      if (++depth > MAX_DEPTH) return undefined;
      i++;
      while (i < n && isWhitespace(b[i])) i++;
      if (i < n && b[i] !== RBRACKET) continue;
    } else {
      const numberStart = i;
      const negative = c === MINUS;
      if (negative) c = b[++i];
      let digit = c - ZERO;
      if (digit < 0 || digit > 9) return undefined;
      let mantissa = 0;
      let fractionDigits = 0;
      if (digit === 0) c = b[++i];
      else {
        do {
          mantissa = mantissa * 10 + digit;
          c = b[++i];
          digit = c - ZERO;
        } while (digit >= 0 && digit <= 9);
      }
      if (c === DOT) {
        c = b[++i];
        digit = c - ZERO;
        if (digit < 0 || digit > 9) return undefined;
        const fractionStart = i;
        do {
          mantissa = mantissa * 10 + digit;
          c = b[++i];
          digit = c - ZERO;
        } while (digit >= 0 && digit <= 9);
        fractionDigits = i - fractionStart;
      }
      let value: number;
      // Exact below 2^53: every partial sum was an exact integer. Once the digits' true value
      // reaches 2^53, rounding (monotonic) keeps the computed one at 2^53 or more, so this catches it.
      if (c === LOWER_E || c === UPPER_E || mantissa > Number.MAX_SAFE_INTEGER || fractionDigits > 22) {
        value = numberAt(b, numberStart);
        if (Number.isNaN(value) || needsExactInteger(value)) return undefined;
        i = numberEnd;
      } else {
        value = fractionDigits === 0 ? mantissa : mantissa / POW10[fractionDigits];
        if (negative) value = -value;
      }
      if (count === scratch.length) {
        const grown = new Float64Array(scratch.length * 2);
        grown.set(scratch);
        scratch = grown;
      }
      scratch[count++] = value;
    }
    // A value ended (or an empty array is about to): a comma, or closing brackets.
    for (;;) {
      while (i < n && isWhitespace(b[i])) i++;
      if (i >= n) return undefined;
      if (b[i] === COMMA) {
        i++;
        break;
      }
      if (b[i] !== RBRACKET) return undefined;
      i++;
      if (--depth === 0) return { values: scratch.slice(0, count), end: i };
    }
  }
}

/** Where the string starting at `start` (a '"') ends, just past its closing quote; -1 if it does not. */
function stringEnd(b: Uint8Array, start: number): number {
  for (let i = start + 1; i < b.length; i++) {
    if (b[i] === BACKSLASH) i++;
    else if (b[i] === QUOTE) return i + 1;
  }
  return -1;
}

function bytesEqual(b: Uint8Array, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let k = 0; k < text.length; k++) if (b[start + k] !== text.charCodeAt(k)) return false;
  return true;
}

const OBJECT = 1;
const ARRAY = 2;
/** What the key being read in an object frame is, as far as this parser cares. */
const OTHER_KEY = 0;
const INPUTS_KEY = 1;
const DATA_KEY = 2;

/** A `data` array read as numbers: where it was in the body and which input it belongs to. */
interface FastArray {
  start: number;
  end: number;
  values: Float64Array;
}

/**
 * Find every `inputs[i].data` number array. Returns, by input index, the arrays that are the
 * value JSON.parse will keep (the last `data` key of each input, of the last `inputs` key), or
 * undefined when the body has escaped keys, which only JSON.parse can compare.
 */
function findDataArrays(b: Uint8Array): Map<number, FastArray> | undefined {
  const kinds: number[] = [];
  const keys: number[] = [];
  let expectKey = false;
  let element = 0;
  let found = new Map<number, FastArray>();
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const depth = kinds.length;
    if (c === QUOTE) {
      const end = stringEnd(b, i);
      if (end < 0) return undefined;
      if (expectKey) {
        expectKey = false;
        let key = OTHER_KEY;
        if (depth === 1 || depth === 3) {
          for (let k = i + 1; k < end - 1; k++) if (b[k] === BACKSLASH) return undefined;
          if (depth === 1 && bytesEqual(b, i + 1, end - 1, 'inputs')) {
            key = INPUTS_KEY;
            found = new Map();
            element = 0;
          } else if (
            depth === 3 &&
            keys[0] === INPUTS_KEY &&
            kinds[1] === ARRAY &&
            bytesEqual(b, i + 1, end - 1, 'data')
          ) {
            key = DATA_KEY;
            // A later duplicate key wins in JSON.parse, whatever its value.
            found.delete(element);
          }
        }
        keys[depth - 1] = key;
      }
      i = end;
      continue;
    }
    if (c === LBRACKET && depth === 3 && keys[2] === DATA_KEY && kinds[2] === OBJECT) {
      const array = numberArrayAt(b, i);
      if (array !== undefined) {
        found.set(element, { start: i, end: array.end, values: array.values });
        i = array.end;
        continue;
      }
    }
    if (c === LBRACE || c === LBRACKET) {
      kinds.push(c === LBRACE ? OBJECT : ARRAY);
      keys.push(OTHER_KEY);
      expectKey = c === LBRACE;
    } else if (c === RBRACE || c === RBRACKET) {
      kinds.pop();
      keys.pop();
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = kinds[depth - 1] === OBJECT;
      if (depth === 2 && kinds[1] === ARRAY && keys[0] === INPUTS_KEY) element++;
    }
    i++;
  }
  return found;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON.parse of a body, with integers in arrays beyond 2^53 read exactly (as bigints). */
const parseBody = (text: string): unknown => parseJsonExact(text, true);

/**
 * Parse a V2 infer body as JSON.parse(body as UTF-8) would, except that an input's `data` made of
 * numbers only comes back as a Float64Array of them, flattened, and that an integer in an array
 * beyond 2^53 comes back as an exact bigint. Throws JSON.parse's SyntaxError for text that is not
 * JSON.
 */
export function parseInferJson(body: Buffer): unknown {
  const arrays = findDataArrays(body);
  if (scratch.length > SCRATCH_KEPT) scratch = new Float64Array(1024);
  if (arrays === undefined || arrays.size === 0) return parseBody(body.toString('utf8'));
  let skeleton = '';
  let at = 0;
  for (const array of [...arrays.values()].sort((x, y) => x.start - y.start)) {
    skeleton += body.toString('utf8', at, array.start) + 'null';
    at = array.end;
  }
  skeleton += body.toString('utf8', at);
  let value: unknown;
  try {
    value = parseBody(skeleton);
  } catch {
    // Positions in the error would be the skeleton's: let the body itself produce the error.
    return parseBody(body.toString('utf8'));
  }
  const inputs = isObject(value) ? value.inputs : undefined;
  for (const [element, array] of arrays) {
    const input: unknown = Array.isArray(inputs) ? inputs[element] : undefined;
    // Always so by construction; checked so that a mistake here can only cost speed.
    if (!isObject(input) || input.data !== null) return parseBody(body.toString('utf8'));
    input.data = array.values;
  }
  return value;
}
