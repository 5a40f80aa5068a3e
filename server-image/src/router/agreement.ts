/**
 * Agreement between the served response and the mirrored one: decode just enough of either
 * protocol (V2 JSON, V2 binary tensor extension, KServe V1 `predictions`) to compare outputs.
 * Only mirrored requests are decoded; the proxy never parses bodies otherwise.
 */

/** One output tensor, flattened row-major. */
export interface DecodedOutput {
  name: string;
  /** V2 datatype when the protocol says it; undefined for V1 predictions. */
  datatype?: string;
  shape: number[];
  values: (number | string)[];
}

/** How two responses compared. */
export interface Comparison {
  /** False when either body could not be decoded as an inference response (nothing to count). */
  comparable: boolean;
  agree: boolean;
  /** Largest |a-b| over numeric outputs compared element-wise; 0 when none were. */
  maxAbsDiff: number;
}

const FLOAT_TYPES = new Set(['FP16', 'FP32', 'FP64']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Flattens nested arrays, recording the shape of the first path (V1 and nested V2 data). */
function flatten(data: unknown): { shape: number[]; values: (number | string)[] } | undefined {
  const shape: number[] = [];
  for (let v: unknown = data; Array.isArray(v); v = v[0]) shape.push(v.length);
  const values: (number | string)[] = [];
  const walk = (v: unknown): boolean => {
    if (Array.isArray(v)) return v.every(walk);
    if (typeof v === 'number' || typeof v === 'string') values.push(v);
    else if (typeof v === 'boolean') values.push(v ? 1 : 0);
    else return false;
    return true;
  };
  return walk(data) ? { shape, values } : undefined;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Decodes one binary-extension tensor blob (little-endian, as the V2 binary extension defines it). */
function decodeBinary(datatype: string, buf: Buffer): (number | string)[] | undefined {
  const out: (number | string)[] = [];
  const each = (size: number, read: (off: number) => number | bigint): (number | string)[] | undefined => {
    if (buf.length % size !== 0) return undefined;
    for (let off = 0; off < buf.length; off += size) out.push(Number(read(off)));
    return out;
  };
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
      return each(1, (o) => buf.readUInt8(o));
    case 'INT8':
      return each(1, (o) => buf.readInt8(o));
    case 'UINT16':
      return each(2, (o) => buf.readUInt16LE(o));
    case 'INT16':
      return each(2, (o) => buf.readInt16LE(o));
    case 'FP16':
      return each(2, (o) => halfToFloat(buf.readUInt16LE(o)));
    case 'UINT32':
      return each(4, (o) => buf.readUInt32LE(o));
    case 'INT32':
      return each(4, (o) => buf.readInt32LE(o));
    case 'FP32':
      return each(4, (o) => buf.readFloatLE(o));
    case 'UINT64':
      return each(8, (o) => buf.readBigUInt64LE(o));
    case 'INT64':
      return each(8, (o) => buf.readBigInt64LE(o));
    case 'FP64':
      return each(8, (o) => buf.readDoubleLE(o));
    case 'BYTES': {
      for (let off = 0; off < buf.length;) {
        if (off + 4 > buf.length) return undefined;
        const len = buf.readUInt32LE(off);
        if (off + 4 + len > buf.length) return undefined;
        out.push(buf.toString('utf8', off + 4, off + 4 + len));
        off += 4 + len;
      }
      return out;
    }
    default:
      return undefined;
  }
}

/**
 * Decodes the outputs of an inference response body. `inferenceHeaderLength` is the value of the
 * `Inference-Header-Content-Length` response header (binary extension) when present. Returns
 * undefined for anything that is not a well-formed V1 or V2 response (errors, HTML, truncation).
 */
export function decodeOutputs(body: Buffer, inferenceHeaderLength?: number): DecodedOutput[] | undefined {
  const jsonEnd = inferenceHeaderLength ?? body.length;
  if (!Number.isInteger(jsonEnd) || jsonEnd < 0 || jsonEnd > body.length) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8', 0, jsonEnd));
  } catch {
    return undefined;
  }
  if (!isRecord(doc)) return undefined;
  if (Array.isArray(doc.outputs)) {
    const outputs: DecodedOutput[] = [];
    let offset = jsonEnd;
    for (const o of doc.outputs) {
      if (!isRecord(o) || typeof o.name !== 'string' || typeof o.datatype !== 'string') return undefined;
      if (!Array.isArray(o.shape) || !o.shape.every((d) => Number.isInteger(d))) return undefined;
      const binarySize = isRecord(o.parameters) ? o.parameters.binary_data_size : undefined;
      let values: (number | string)[] | undefined;
      if (typeof binarySize === 'number') {
        if (offset + binarySize > body.length) return undefined;
        values = decodeBinary(o.datatype, body.subarray(offset, offset + binarySize));
        offset += binarySize;
      } else {
        values = flatten(o.data)?.values;
      }
      if (!values) return undefined;
      outputs.push({ name: o.name, datatype: o.datatype, shape: o.shape as number[], values });
    }
    return outputs;
  }
  if (Array.isArray(doc.predictions)) {
    const flat = flatten(doc.predictions);
    return flat ? [{ name: 'predictions', shape: flat.shape, values: flat.values }] : undefined;
  }
  return undefined;
}

/** Classifier-like: floating scores with a class axis (rank ≥ 2, last dimension > 1). */
function isClassScores(o: DecodedOutput): boolean {
  const floatish =
    o.datatype === undefined
      ? o.values.some((v) => typeof v === 'number' && !Number.isInteger(v))
      : FLOAT_TYPES.has(o.datatype);
  return floatish && o.shape.length >= 2 && o.shape[o.shape.length - 1] > 1;
}

function argmaxRows(values: number[], classes: number): number[] {
  const rows: number[] = [];
  for (let start = 0; start < values.length; start += classes) {
    let best = start;
    for (let i = start + 1; i < start + classes; i++) if (values[i] > values[best]) best = i;
    rows.push(best - start);
  }
  return rows;
}

/**
 * Compares the served outputs with the mirrored ones. Per output: class scores agree when every
 * row has the same top class; other numeric outputs agree when max |a-b| ≤ tolerance (so integer
 * labels must match exactly); strings must be equal. Different output names, shapes or lengths
 * disagree.
 */
export function compareOutputs(served: DecodedOutput[], mirrored: DecodedOutput[], tolerance: number): Comparison {
  let agree = served.length === mirrored.length;
  let maxAbsDiff = 0;
  for (const a of served) {
    const b = mirrored.find((o) => o.name === a.name);
    if (!b || b.values.length !== a.values.length || b.shape.join() !== a.shape.join()) {
      agree = false;
      continue;
    }
    const numeric = a.values.every((v) => typeof v === 'number') && b.values.every((v) => typeof v === 'number');
    if (!numeric) {
      if (a.values.some((v, i) => v !== b.values[i])) agree = false;
      continue;
    }
    const av = a.values as number[];
    const bv = b.values as number[];
    let diff = 0;
    for (let i = 0; i < av.length; i++) {
      const d = Math.abs(av[i] - bv[i]);
      diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    }
    if (Number.isFinite(diff)) maxAbsDiff = Math.max(maxAbsDiff, diff);
    if (isClassScores(a) && isClassScores(b)) {
      const classes = a.shape[a.shape.length - 1];
      const ta = argmaxRows(av, classes);
      const tb = argmaxRows(bv, classes);
      if (ta.some((c, i) => c !== tb[i])) agree = false;
    } else if (!(diff <= tolerance)) {
      agree = false;
    }
  }
  return { comparable: true, agree, maxAbsDiff };
}

/** Decodes both bodies and compares them; not comparable when either is not an inference response. */
export function compareResponses(
  served: { body: Buffer; inferenceHeaderLength?: number },
  mirrored: { body: Buffer; inferenceHeaderLength?: number },
  tolerance: number,
): Comparison {
  const a = decodeOutputs(served.body, served.inferenceHeaderLength);
  const b = decodeOutputs(mirrored.body, mirrored.inferenceHeaderLength);
  if (!a || !b) return { comparable: false, agree: false, maxAbsDiff: 0 };
  return compareOutputs(a, b, tolerance);
}
