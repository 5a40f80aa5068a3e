/**
 * The Open Inference Protocol's binary tensor data extension, as Triton and tritonclient.http
 * speak it: a body is a JSON header of `Inference-Header-Content-Length` bytes followed by raw
 * tensor bytes; each tensor sent this way carries `parameters.binary_data_size` and its bytes
 * follow in order. Fixed-size types are little-endian row-major; BYTES elements are each a 4-byte
 * little-endian length followed by that many bytes. Pure functions only.
 *
 * BYTES elements travel through the data plane as JS strings, because that is all onnxruntime-node
 * takes for a string tensor: it hands the model each string's UTF-8 bytes. So an element's bytes
 * reach the model unchanged exactly when they are valid UTF-8, and then they decode to a string
 * that encodes back to the same bytes. Elements that are not valid UTF-8 are refused, never
 * replaced with U+FFFD; a leading byte order mark is kept as the character it is.
 */
import { InferError, type TensorData } from '../dataplane/types.js';
import type { DataType } from '../../../contract/metadata.js';

/** Bytes per element of each fixed-size type (BYTES is variable and absent). */
export const ELEMENT_SIZE: Partial<Record<DataType, number>> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

/** The header name, lowercase as node presents incoming headers. */
export const HEADER_LENGTH = 'inference-header-content-length';

/**
 * Split a body at the header length the client declared. Throws InferError('invalid') when the
 * value is not a non-negative integer or points past the end of the body.
 */
export function splitBody(body: Buffer, headerLength: string): { header: Buffer; data: Buffer } {
  const n = /^\d+$/.test(headerLength.trim()) ? Number(headerLength) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new InferError(
      'invalid',
      `Inference-Header-Content-Length must be a non-negative integer, got ${JSON.stringify(headerLength)}`,
    );
  }
  if (n > body.length) {
    throw new InferError(
      'invalid',
      `Inference-Header-Content-Length is ${n} but the body has only ${body.length} bytes`,
    );
  }
  return { header: body.subarray(0, n), data: body.subarray(n) };
}

/** A copy of `bytes` in a fresh, aligned ArrayBuffer (Buffer slices may be unaligned or pooled). */
function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return out;
}

/**
 * Decode one tensor's raw bytes. `count` is the element count its shape implies; the byte length
 * must match it exactly (for BYTES, the elements must fill the bytes exactly).
 */
export function decodeTensorBytes(name: string, datatype: DataType, bytes: Uint8Array, count: number): TensorData {
  if (datatype === 'BYTES') return decodeBytesElements(name, bytes, count);
  const size = ELEMENT_SIZE[datatype];
  if (size === undefined) throw new InferError('invalid', `input '${name}': unsupported datatype ${datatype}`);
  if (bytes.byteLength !== count * size) {
    throw new InferError(
      'invalid',
      `input '${name}': ${datatype} shape needs ${count} elements = ${count * size} bytes, binary data has ${bytes.byteLength}`,
    );
  }
  const buf = alignedCopy(bytes);
  switch (datatype) {
    case 'BOOL': {
      const u8 = new Uint8Array(buf);
      for (let i = 0; i < u8.length; i++) u8[i] = u8[i] === 0 ? 0 : 1;
      return u8;
    }
    case 'UINT8':
      return new Uint8Array(buf);
    case 'INT8':
      return new Int8Array(buf);
    case 'UINT16':
    case 'FP16':
      return new Uint16Array(buf);
    case 'INT16':
      return new Int16Array(buf);
    case 'UINT32':
      return new Uint32Array(buf);
    case 'INT32':
      return new Int32Array(buf);
    case 'FP32':
      return new Float32Array(buf);
    case 'UINT64':
      return new BigUint64Array(buf);
    case 'INT64':
      return new BigInt64Array(buf);
    case 'FP64':
      return new Float64Array(buf);
  }
}

function decodeBytesElements(name: string, bytes: Uint8Array, count: number): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // fatal: invalid UTF-8 throws instead of becoming U+FFFD; ignoreBOM: a leading EF BB BF is data.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const out: string[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    if (at + 4 > bytes.byteLength) {
      throw new InferError(
        'invalid',
        `input '${name}': BYTES element ${out.length} has a truncated 4-byte length prefix`,
      );
    }
    const len = view.getUint32(at, true);
    at += 4;
    if (at + len > bytes.byteLength) {
      throw new InferError(
        'invalid',
        `input '${name}': BYTES element ${out.length} declares ${len} bytes but only ${bytes.byteLength - at} remain`,
      );
    }
    try {
      out.push(decoder.decode(bytes.subarray(at, at + len)));
    } catch {
      throw new InferError(
        'invalid',
        `input '${name}': BYTES element ${out.length} is not valid UTF-8, which a string tensor cannot carry unchanged`,
      );
    }
    at += len;
  }
  if (out.length !== count) {
    throw new InferError(
      'invalid',
      `input '${name}': shape needs ${count} BYTES elements, binary data has ${out.length}`,
    );
  }
  return out;
}

/**
 * Raw little-endian bytes of a tensor (BYTES: length-prefixed UTF-8 elements). The strings a model
 * returns were decoded from UTF-8 by onnxruntime-node, so they are well-formed and encode back to
 * exactly those bytes. (A model's own non-UTF-8 output bytes are already U+FFFD by then, inside
 * onnxruntime-node, where the server cannot see them.)
 */
export function encodeTensorBytes(data: TensorData): Buffer {
  if (Array.isArray(data)) {
    const parts: Buffer[] = [];
    for (const s of data) {
      const body = Buffer.from(s, 'utf8');
      const prefix = Buffer.allocUnsafe(4);
      prefix.writeUInt32LE(body.length, 0);
      parts.push(prefix, body);
    }
    return Buffer.concat(parts);
  }
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Assemble a binary-extension body: JSON header then the tensors' bytes, in order. */
export function encodeBinaryBody(header: string, tensors: readonly Buffer[]): { body: Buffer; headerLength: number } {
  const head = Buffer.from(header, 'utf8');
  return { body: Buffer.concat([head, ...tensors]), headerLength: head.length };
}
