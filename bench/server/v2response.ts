/**
 * Decoding V2 infer responses (JSON, or the binary tensor data extension) into plain numbers, so the
 * benchmark can check that every server computed the same thing before it measures how fast.
 * Deliberately independent of the server's own codec: the check should not share its bugs.
 */

/** One decoded output tensor. */
export interface DecodedOutput {
  name: string;
  datatype: string;
  shape: number[];
  values: number[];
}

interface OutputHeader {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: { binary_data_size?: number };
}

const READERS: Record<string, { size: number; read: (view: DataView, offset: number) => number }> = {
  FP32: { size: 4, read: (v, o) => v.getFloat32(o, true) },
  FP64: { size: 8, read: (v, o) => v.getFloat64(o, true) },
  INT32: { size: 4, read: (v, o) => v.getInt32(o, true) },
  INT64: { size: 8, read: (v, o) => Number(v.getBigInt64(o, true)) },
  BOOL: { size: 1, read: (v, o) => v.getUint8(o) },
};

/**
 * Decode a response body. `headerLength` is the response's Inference-Header-Content-Length, or
 * null for a JSON body. Throws naming the output when the body does not hold what it declares.
 */
export function decodeInferResponse(body: Uint8Array, headerLength: number | null): DecodedOutput[] {
  const jsonEnd = headerLength ?? body.byteLength;
  if (jsonEnd > body.byteLength)
    throw new Error(`decode response: header length ${jsonEnd} exceeds body of ${body.byteLength} bytes`);
  const header = JSON.parse(new TextDecoder().decode(body.subarray(0, jsonEnd))) as { outputs?: OutputHeader[] };
  if (!Array.isArray(header.outputs)) throw new Error('decode response: no outputs array');
  let offset = jsonEnd;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return header.outputs.map((out) => {
    const size = out.parameters?.binary_data_size;
    if (size === undefined) {
      if (!Array.isArray(out.data))
        throw new Error(`decode response: output ${out.name} has neither data nor binary_data_size`);
      return { name: out.name, datatype: out.datatype, shape: out.shape, values: out.data.map(Number) };
    }
    const reader = READERS[out.datatype];
    if (!reader) throw new Error(`decode response: output ${out.name} has unsupported datatype ${out.datatype}`);
    if (offset + size > body.byteLength)
      throw new Error(
        `decode response: output ${out.name} needs ${size} bytes past offset ${offset}, body has ${body.byteLength}`,
      );
    const values: number[] = [];
    for (let at = offset; at < offset + size; at += reader.size) values.push(reader.read(view, at));
    offset += size;
    return { name: out.name, datatype: out.datatype, shape: out.shape, values };
  });
}

/**
 * The largest absolute difference between two servers' outputs, matched by name; Infinity when
 * they differ in names, datatypes, shapes or element counts (that is not "close", it is wrong).
 */
export function maxAbsDifference(a: DecodedOutput[], b: DecodedOutput[]): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (const left of a) {
    const right = b.find((o) => o.name === left.name);
    if (
      !right ||
      right.datatype !== left.datatype ||
      right.shape.join() !== left.shape.join() ||
      right.values.length !== left.values.length
    ) {
      return Infinity;
    }
    left.values.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - right.values[i]));
    });
  }
  return worst;
}
