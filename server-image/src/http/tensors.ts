/**
 * JSON tensor codec shared by both protocols: JSON values (flat or nested arrays) ↔ the data
 * plane's typed tensors, and typed tensors → JSON text. Pure functions; every rejection is an
 * InferError('invalid') naming the tensor and the element at fault.
 */
import { InferError, type TensorData } from '../dataplane/types.js';
import type { DataType } from '../../../contract/metadata.js';
import { exactJsonInteger } from './jsonexact.js';

const DATATYPES: ReadonlySet<string> = new Set<DataType>([
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
]);

/** Whether `value` names a datatype the protocol knows. */
export function isDataType(value: unknown): value is DataType {
  return typeof value === 'string' && DATATYPES.has(value);
}

/** The element count a shape implies. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * A short, safe description of a client-supplied value for an error message: never the value
 * itself when it is a (possibly huge or deeply nested) array or object.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'bigint') return value.toString();
  return String(value);
}

/** Validate a shape from a request: an array of non-negative safe integers. */
export function parseShape(name: string, shape: unknown): number[] {
  if (
    !Array.isArray(shape) ||
    shape.length > MAX_DEPTH ||
    !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
  ) {
    const got =
      Array.isArray(shape) && shape.length <= MAX_DEPTH
        ? `[${shape.map(describeValue).join(',')}]`
        : describeValue(shape);
    throw new InferError(
      'invalid',
      `tensor '${name}': shape must be an array of at most ${MAX_DEPTH} non-negative integers, got ${got}`,
    );
  }
  return shape as number[];
}

/** Deepest nesting (and highest rank) accepted: far beyond any model, far below the stack's limit. */
export const MAX_DEPTH = 32;

/**
 * Flatten nested arrays in row-major order; a flat array is returned as is. Iterative, and
 * nesting deeper than MAX_DEPTH is refused, so hostile input cannot exhaust the stack.
 */
export function flatten(name: string, data: readonly unknown[]): unknown[] {
  if (!data.some(Array.isArray)) return data as unknown[];
  const out: unknown[] = [];
  const stack: { items: readonly unknown[]; at: number }[] = [{ items: data, at: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.at === top.items.length) {
      stack.pop();
      continue;
    }
    const x = top.items[top.at++];
    if (!Array.isArray(x)) out.push(x);
    else if (stack.length >= MAX_DEPTH)
      throw new InferError('invalid', `tensor '${name}': data nested deeper than ${MAX_DEPTH} levels`);
    else stack.push({ items: x, at: 0 });
  }
  return out;
}

const INT_RANGE: Partial<Record<DataType, [number, number]>> = {
  INT8: [-128, 127],
  UINT8: [0, 255],
  INT16: [-32768, 32767],
  UINT16: [0, 65535],
  INT32: [-(2 ** 31), 2 ** 31 - 1],
  UINT32: [0, 2 ** 32 - 1],
};

/** String.prototype.isWellFormed (ES2024; TypeScript's lib here is ES2023). */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * Typed data from JSON values (an array, or a Float64Array of numbers already parsed), checked
 * element by element: numbers for numeric types (integers in range for integer types, exact:
 * an integer beyond 2^53 arrives as a bigint, see ./jsonexact.ts), booleans (or 0/1) for BOOL,
 * strings that UTF-8 can encode for BYTES.
 */
export function typedFromJson(name: string, datatype: DataType, values: ArrayLike<unknown>): TensorData {
  const bad = (i: number, want: string): never => {
    throw new InferError(
      'invalid',
      `tensor '${name}': element ${i} is ${describeValue(values[i])}, expected ${want} for ${datatype}`,
    );
  };
  const n = values.length;
  switch (datatype) {
    case 'FP32':
    case 'FP64': {
      // Already numbers: converted natively, in one step.
      if (values instanceof Float64Array) return datatype === 'FP32' ? new Float32Array(values) : values.slice();
      const out = datatype === 'FP32' ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        // A bigint is an integer literal beyond 2^53; Number() rounds it as JSON.parse would have.
        if (typeof v === 'number') out[i] = v;
        else if (typeof v === 'bigint') out[i] = Number(v);
        else bad(i, 'a number');
      }
      return out;
    }
    case 'INT8':
    case 'UINT8':
    case 'INT16':
    case 'UINT16':
    case 'INT32':
    case 'UINT32': {
      const [lo, hi] = INT_RANGE[datatype] as [number, number];
      const Ctor = {
        INT8: Int8Array,
        UINT8: Uint8Array,
        INT16: Int16Array,
        UINT16: Uint16Array,
        INT32: Int32Array,
        UINT32: Uint32Array,
      }[datatype];
      const out = new Ctor(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) bad(i, `an integer in [${lo}, ${hi}]`);
        out[i] = v as number;
      }
      return out;
    }
    case 'INT64':
    case 'UINT64': {
      const out = datatype === 'INT64' ? new BigInt64Array(n) : new BigUint64Array(n);
      const lo = datatype === 'INT64' ? -(2n ** 63n) : 0n;
      const hi = datatype === 'INT64' ? 2n ** 63n - 1n : 2n ** 64n - 1n;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        // Beyond 2^53 only a bigint is exact (./jsonexact.ts): a number there is a literal that was
        // not exactly an integer (9007199254740992.5), or one beyond every datatype (1e20).
        const b = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v as number) : undefined;
        if (b === undefined || b < lo || b > hi) bad(i, `an integer in [${lo}, ${hi}]`);
        out[i] = b as bigint;
      }
      return out;
    }
    case 'BOOL': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === true || v === 1) out[i] = 1;
        else if (v === false || v === 0) out[i] = 0;
        else bad(i, 'true or false');
      }
      return out;
    }
    case 'BYTES': {
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'string') bad(i, 'a string');
        // A lone surrogate ("\ud800") has no UTF-8 form: encoding would turn it into U+FFFD.
        if (!isWellFormed(v as string)) {
          throw new InferError(
            'invalid',
            `tensor '${name}': element ${i} is a string with a lone UTF-16 surrogate, which UTF-8 cannot encode; BYTES elements must be valid Unicode text`,
          );
        }
      }
      return Array.from(values as ArrayLike<string>);
    }
    case 'FP16':
      throw new InferError('invalid', `tensor '${name}': FP16 is accepted only as binary data`);
  }
}

function floatsToJson(data: Float32Array | Float64Array): string {
  let finite = true;
  for (let i = 0; i < data.length && finite; i++) finite = Number.isFinite(data[i]);
  // Array join is the fastest exact serialisation; JSON has no NaN/Infinity, which become null.
  if (finite) return '[' + Array.prototype.join.call(data, ',') + ']';
  return JSON.stringify(Array.from(data, (v) => (Number.isFinite(v) ? v : null)));
}

/** The value of an IEEE 754 half-precision number given as its 16 bits. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * JSON text for flat tensor data. Integers of 64 bits are written exactly (as JSON numbers, not
 * via a double), booleans as true/false, strings escaped.
 */
export function dataToJson(datatype: DataType, data: TensorData): string {
  if (Array.isArray(data)) return JSON.stringify(data);
  if (datatype === 'BOOL') return '[' + Array.from(data as Uint8Array, (v) => (v ? 'true' : 'false')).join(',') + ']';
  if (datatype === 'FP16' && data instanceof Uint16Array) return floatsToJson(Float64Array.from(data, halfToNumber));
  if (data instanceof Float32Array || data instanceof Float64Array) return floatsToJson(data);
  return '[' + Array.prototype.join.call(data, ',') + ']';
}

/** The JSON value of row `row` of a tensor shaped `shape` (first dimension = rows), nested by the rest. */
export function rowToJsonValue(datatype: DataType, data: TensorData, shape: readonly number[], row: number): unknown {
  const inner = shape.slice(1);
  return nestedJsonValue(datatype, data, inner, row * elementCount(inner));
}

/** The JSON value of a whole tensor, nested by its shape (a bare value for a scalar, shape []). */
export function tensorToJsonValue(datatype: DataType, data: TensorData, shape: readonly number[]): unknown {
  return nestedJsonValue(datatype, data, shape, 0);
}

/**
 * The elements of `data` from `start` on, nested by `inner`, as JSON.stringify-able values:
 * 64-bit integers exact (see exactJsonInteger), BOOL as booleans, FP16 as the numbers its bits
 * encode, NaN and ±Infinity as null.
 */
function nestedJsonValue(datatype: DataType, data: TensorData, inner: readonly number[], start: number): unknown {
  const at = (i: number): unknown => {
    let v = (data as ArrayLike<unknown>)[start + i];
    if (typeof v === 'bigint') return exactJsonInteger(v);
    if (datatype === 'BOOL') return v !== 0;
    if (datatype === 'FP16') v = halfToNumber(v as number);
    if (typeof v === 'number' && !Number.isFinite(v)) return null;
    return v;
  };
  if (inner.length === 0) return at(0);
  const build = (dim: number, offset: number): unknown[] => {
    const len = inner[dim];
    const stride = elementCount(inner.slice(dim + 1));
    const out: unknown[] = new Array(len);
    for (let i = 0; i < len; i++)
      out[i] = dim === inner.length - 1 ? at(offset + i) : build(dim + 1, offset + i * stride);
    return out;
  };
  return build(0, 0);
}
