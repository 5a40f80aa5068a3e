/**
 * A model's signature (its inputs and outputs) as the V2 protocol describes it, derived from the
 * metadata onnxruntime reports for a session.
 */
import { dataTypeOfOrt } from './dtypes.js';
import { ModelLoadError } from './types.js';
import type { TensorMetadata } from '../../../contract/metadata.js';

/** What onnxruntime-node reports for one input or output (a plain object, posted from a worker). */
export interface RawValueMetadata {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

/** The tensors a model takes and gives. Non-tensor outputs (e.g. ZipMap maps) are left out. */
export interface ModelSignature {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** A dimension as V2 reports it: fixed sizes stay, symbolic or unknown ones become -1. */
export function dimOf(dim: number | string): number {
  return typeof dim === 'number' && Number.isInteger(dim) && dim >= 0 ? dim : -1;
}

function tensorOf(raw: RawValueMetadata, role: 'input' | 'output'): TensorMetadata {
  const datatype = raw.type === undefined ? undefined : dataTypeOfOrt(raw.type);
  if (datatype === undefined) {
    throw new ModelLoadError(
      `model ${role} "${raw.name}" has element type ${raw.type ?? 'unknown'}, which is not served`,
    );
  }
  return { name: raw.name, datatype, shape: (raw.shape ?? []).map(dimOf) };
}

/**
 * The signature of a model from its session metadata. Throws ModelLoadError when an input cannot be
 * fed (a non-tensor or an unsupported element type) or when no output is a tensor.
 */
export function signatureOf(inputs: readonly RawValueMetadata[], outputs: readonly RawValueMetadata[]): ModelSignature {
  const sig: ModelSignature = {
    inputs: inputs.map((raw) => {
      if (!raw.isTensor) throw new ModelLoadError(`model input "${raw.name}" is not a tensor, which is not served`);
      return tensorOf(raw, 'input');
    }),
    outputs: outputs.filter((raw) => raw.isTensor).map((raw) => tensorOf(raw, 'output')),
  };
  if (sig.outputs.length === 0) throw new ModelLoadError('model has no tensor outputs');
  return sig;
}

/**
 * Whether requests to this model may be concatenated along the first dimension: every input and
 * every output must have a dynamic first dimension, or splitting the results back would be guesswork.
 */
export function isBatchable(sig: ModelSignature): boolean {
  const dynamicFirst = (t: TensorMetadata): boolean => t.shape.length >= 1 && t.shape[0] === -1;
  return sig.inputs.length > 0 && sig.inputs.every(dynamicFirst) && sig.outputs.every(dynamicFirst);
}
