/**
 * Tensor element types: the V2 names, the onnxruntime names, and the JavaScript containers that hold
 * them. Checks use `Symbol.toStringTag` rather than `instanceof` because arrays posted back from a
 * worker thread (or created in a jest VM context) belong to another realm.
 */
import type { TensorData } from './types.js';
import type { DataType } from '../../../contract/metadata.js';

/** onnxruntime-node's element type names for the types we serve. */
export type OrtType =
  | 'bool'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'string';

interface TypeInfo {
  ort: OrtType;
  /** The container's `Symbol.toStringTag`, or 'Array' for string[]. */
  container: string;
}

const TYPES: Record<DataType, TypeInfo> = {
  BOOL: { ort: 'bool', container: 'Uint8Array' },
  UINT8: { ort: 'uint8', container: 'Uint8Array' },
  UINT16: { ort: 'uint16', container: 'Uint16Array' },
  UINT32: { ort: 'uint32', container: 'Uint32Array' },
  UINT64: { ort: 'uint64', container: 'BigUint64Array' },
  INT8: { ort: 'int8', container: 'Int8Array' },
  INT16: { ort: 'int16', container: 'Int16Array' },
  INT32: { ort: 'int32', container: 'Int32Array' },
  INT64: { ort: 'int64', container: 'BigInt64Array' },
  // FP16 travels as its raw IEEE-754 half bits, which is what the binary extension carries.
  FP16: { ort: 'float16', container: 'Uint16Array' },
  FP32: { ort: 'float32', container: 'Float32Array' },
  FP64: { ort: 'float64', container: 'Float64Array' },
  BYTES: { ort: 'string', container: 'Array' },
};

const BY_ORT = new Map<string, DataType>(
  (Object.entries(TYPES) as [DataType, TypeInfo][]).map(([dt, info]) => [info.ort, dt]),
);

/** The onnxruntime type name for a V2 datatype. */
export function ortTypeOf(datatype: DataType): OrtType {
  return TYPES[datatype].ort;
}

/** The V2 datatype for an onnxruntime type name, or undefined for types we do not serve (int4…). */
export function dataTypeOfOrt(ortType: string): DataType | undefined {
  return BY_ORT.get(ortType);
}

/** The name of the container a datatype's data must arrive in (for error messages). */
export function containerOf(datatype: DataType): string {
  return TYPES[datatype].container === 'Array' ? 'string[]' : TYPES[datatype].container;
}

/** The container name of some data: 'Float32Array', 'Array', … ('Buffer' reports 'Uint8Array'). */
export function containerNameOf(data: unknown): string {
  if (Array.isArray(data)) return 'Array';
  if (ArrayBuffer.isView(data)) return (data as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag];
  return typeof data;
}

/** Whether `data` is the right container for `datatype` (every element a string, for BYTES). */
export function dataMatchesType(datatype: DataType, data: unknown): boolean {
  const expected = TYPES[datatype].container;
  if (containerNameOf(data) !== expected) return false;
  return expected !== 'Array' || (data as unknown[]).every((v) => typeof v === 'string');
}

type NumericArrayConstructor =
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | BigUint64ArrayConstructor
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Int32ArrayConstructor
  | BigInt64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

const CONSTRUCTORS: Record<Exclude<DataType, 'BYTES'>, NumericArrayConstructor> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

/** A zero-filled tensor of `length` elements ("" for BYTES). */
export function zeros(datatype: DataType, length: number): TensorData {
  if (datatype === 'BYTES') return new Array<string>(length).fill('');
  return new CONSTRUCTORS[datatype](length);
}

/** The elements of `parts` one after another, in a new container of the datatype's kind. */
export function concatData(datatype: DataType, parts: readonly TensorData[]): TensorData {
  if (datatype === 'BYTES') return (parts as string[][]).flat();
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new CONSTRUCTORS[datatype](total);
  let offset = 0;
  for (const part of parts) {
    // Every part was checked to have this datatype's container, so the element kinds agree.
    (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(part as ArrayLike<unknown>, offset);
    offset += part.length;
  }
  return out;
}

/** Elements [start, end) of `data` as a copy that owns its own buffer (so it can be transferred). */
export function sliceData(data: TensorData, start: number, end: number): TensorData {
  return data.slice(start, end) as TensorData;
}
