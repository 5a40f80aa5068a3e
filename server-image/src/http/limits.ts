/**
 * The response size limit (MODELSHIP_MAX_RESPONSE_SIZE): the output data an answer would carry,
 * counted before the answer is built. Without it a model whose outputs are large (an identity
 * model fed a 31 MiB binary request) made over 100 MB of JSON text, and the process peaked near
 * 900 MiB (bench/results/limits.md); counting first refuses such an answer with a 400 while only
 * the output tensors exist.
 *
 * What counts is each output's data as it would go on the wire: a binary output its exact bytes,
 * a JSON output the length of its data's JSON text. The envelope (names, shapes, V1's nesting and
 * keys) is small beside it and not counted. Pure functions.
 */
import { InferError, type Tensor, type TensorData } from '../dataplane/types.js';
import type { DataType } from '../../../contract/metadata.js';
import { dataToJson } from './tensors.js';

/** The setting a refusal names, so an operator knows what to raise. */
const RESPONSE_LIMIT_SETTING = 'MODELSHIP_MAX_RESPONSE_SIZE';

/**
 * The longest JSON text one element of each type can take, with its comma. Floats of every width
 * are written as the shortest text that reads back as the same double (a float32 0.1 becomes
 * 0.10000000149011612): up to 17 digits, and between 1e-6 and 1e-5 in fixed notation, so the
 * longest is 25 characters, e.g. "-0.0000051471888582454994".
 */
const JSON_ELEMENT_MAX: Record<Exclude<DataType, 'BYTES'>, number> = {
  BOOL: 6, // false,
  UINT8: 4, // 255,
  INT8: 5, // -128,
  UINT16: 6, // 65535,
  INT16: 7, // -32768,
  UINT32: 11, // 4294967295,
  INT32: 12, // -2147483648,
  UINT64: 21, // 18446744073709551615,
  INT64: 21, // -9223372036854775808,
  FP16: 26,
  FP32: 26,
  FP64: 26,
};

/** Elements serialised at a time when measuring: small enough that measuring costs no memory to speak of. */
const MEASURE_CHUNK = 1 << 16;

/**
 * An upper bound on the bytes of `data`'s JSON text, from its length alone. A string's UTF-16 unit
 * takes at most 6 bytes (a \u escape), plus its quotes and comma.
 */
export function jsonBytesBound(datatype: DataType, data: TensorData): number {
  if (Array.isArray(data)) {
    let bytes = 2;
    for (const s of data) bytes += 6 * s.length + 3;
    return bytes;
  }
  return 2 + data.length * JSON_ELEMENT_MAX[datatype as Exclude<DataType, 'BYTES'>];
}

/**
 * The exact bytes of dataToJson(datatype, data), serialised a chunk at a time and thrown away, so
 * measuring an answer never holds it whole. Stops once the count passes `stopAbove`: the result is
 * then a lower bound that is already over it.
 */
export function jsonBytes(datatype: DataType, data: TensorData, stopAbove: number): number {
  if (data.length === 0) return 2;
  // '[' now; each chunk adds its elements and the ',' or ']' after them.
  let bytes = 1;
  for (let start = 0; start < data.length && bytes <= stopAbove; start += MEASURE_CHUNK) {
    const end = start + MEASURE_CHUNK;
    const chunk = Array.isArray(data) ? data.slice(start, end) : data.subarray(start, end);
    bytes += Buffer.byteLength(dataToJson(datatype, chunk)) - 1;
  }
  return bytes;
}

/** The exact bytes of a tensor sent as binary data (BYTES: a 4-byte length before each element). */
export function binaryBytes(data: TensorData): number {
  if (!Array.isArray(data)) return data.byteLength;
  let bytes = 0;
  for (const s of data) bytes += 4 + Buffer.byteLength(s);
  return bytes;
}

/** How the answer would carry the outputs, and what the client can do about a refusal. */
export interface ResponseLimit {
  maxBytes: number;
  /** Whether output `name` would go as binary data. */
  binary(name: string): boolean;
  /** What the client sends fewer of to get a smaller answer: "rows", "instances". */
  fewer: string;
  /** How to ask for binary outputs, when the protocol has them. */
  askBinary?: string;
}

/**
 * Why an answer with these outputs would be too large, or undefined when it fits. The cheap bound
 * clears almost every answer; only one whose bound passes the limit is measured exactly.
 */
export function responseTooLarge(outputs: readonly Tensor[], limit: ResponseLimit): string | undefined {
  let bound = 0;
  for (const o of outputs) bound += limit.binary(o.name) ? binaryBytes(o.data) : jsonBytesBound(o.datatype, o.data);
  if (bound <= limit.maxBytes) return undefined;
  const counted: string[] = [];
  let total = 0;
  let anyJson = false;
  for (const o of outputs) {
    const binary = limit.binary(o.name);
    anyJson ||= !binary;
    const bytes = binary ? binaryBytes(o.data) : jsonBytes(o.datatype, o.data, limit.maxBytes - total);
    total += bytes;
    counted.push(
      `'${o.name}' (${o.datatype} ${JSON.stringify(o.shape)}, ${bytes} bytes ${binary ? 'binary' : 'as JSON'})`,
    );
    if (total > limit.maxBytes) break;
  }
  if (total <= limit.maxBytes) return undefined;
  const what = counted.length === 1 ? `output ${counted[0]} is` : `outputs ${counted.join(' and ')} are`;
  const binaryAdvice =
    anyJson && limit.askBinary !== undefined ? ` or ask for binary outputs (${limit.askBinary})` : '';
  return `response too large: ${what} over the limit of ${limit.maxBytes} bytes (${RESPONSE_LIMIT_SETTING}); send fewer ${limit.fewer}${binaryAdvice}`;
}

/**
 * Throw InferError('invalid') when the answer would be too large; see responseTooLarge. A 400, not
 * a 413, which is about request bodies: the client can fix it (fewer rows, binary outputs), and
 * Triton answers its own size limit (--http-max-input-size) with a 400 naming the flag too.
 */
export function checkResponseSize(outputs: readonly Tensor[], limit: ResponseLimit): void {
  const tooLarge = responseTooLarge(outputs, limit);
  if (tooLarge !== undefined) throw new InferError('invalid', tooLarge);
}
