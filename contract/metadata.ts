/**
 * Part of the cross-process contract (contract/): V2 model metadata (`GET /v2/models/{name}` of the
 * Open Inference Protocol), which the server answers, the router publishes in its stats document and
 * the operator's contract gate compares between revisions.
 */

/** Tensor element types, named as the Open Inference Protocol (V2) names them. */
export type DataType =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';

/** A model input or output as the model declares it; -1 marks a dynamic dimension. */
export interface TensorMetadata {
  name: string;
  datatype: DataType;
  shape: number[];
}

/** V2 model metadata (`GET /v2/models/{name}`). */
export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

function isTensorList(v: unknown): v is TensorMetadata[] {
  return (
    Array.isArray(v) &&
    v.every(
      (t) =>
        typeof t === 'object' &&
        t !== null &&
        typeof (t as TensorMetadata).name === 'string' &&
        typeof (t as TensorMetadata).datatype === 'string' &&
        Array.isArray((t as TensorMetadata).shape) &&
        (t as TensorMetadata).shape.every((d) => Number.isInteger(d)),
    )
  );
}

/**
 * Model metadata from a body another process sent (a server's answer as the router relayed it):
 * undefined unless it has a name and well-formed inputs and outputs; missing versions and platform
 * read as empty.
 */
export function parseModelMetadata(body: unknown): ModelMetadata | undefined {
  const m = body as Partial<ModelMetadata> | undefined;
  if (!m || typeof m.name !== 'string' || !isTensorList(m.inputs) || !isTensorList(m.outputs)) return undefined;
  return {
    name: m.name,
    versions: Array.isArray(m.versions) ? m.versions : [],
    platform: typeof m.platform === 'string' ? m.platform : '',
    inputs: m.inputs,
    outputs: m.outputs,
  };
}
