/**
 * Request validation against the model's own signature, before anything runs. Every failure is an
 * InferError('invalid') whose message names the input or output at fault.
 */
import { containerNameOf, containerOf, dataMatchesType } from './dtypes.js';
import type { ModelSignature } from './signature.js';
import { InferError, type InferRequest, type Tensor } from './types.js';

/** A request that passed validation, in the shape the scheduler runs. */
export interface PreparedRequest {
  /** The inputs in the model's input order. */
  inputs: Tensor[];
  /** The outputs to return: as requested, or every tensor output in the model's order. */
  outputs: string[];
  /** Rows along the batch dimension, when the model is batchable. */
  rows?: number;
  /** Requests with the same key have compatible trailing shapes and outputs and may be concatenated. */
  batchKey?: string;
}

function invalid(message: string): InferError {
  return new InferError('invalid', message);
}

function checkShape(input: Tensor, modelShape: readonly number[]): void {
  const { name, shape } = input;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalid(`input "${name}": shape ${JSON.stringify(shape)} must be a list of non-negative integers`);
  }
  if (shape.length !== modelShape.length) {
    throw invalid(
      `input "${name}": shape [${shape.join(',')}] has rank ${shape.length}, the model expects rank ${modelShape.length} ([${modelShape.join(',')}])`,
    );
  }
  shape.forEach((d, i) => {
    if (modelShape[i] !== -1 && modelShape[i] !== d) {
      throw invalid(
        `input "${name}": shape [${shape.join(',')}] does not match the model's [${modelShape.join(',')}] at dimension ${i}`,
      );
    }
  });
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * Check `request` against `sig` and put its inputs in the model's order. `batchable` says whether
 * the model's first dimension is the batch dimension (see isBatchable); then every input must agree
 * on it and the result carries the rows and a batch key.
 */
export function validateRequest(sig: ModelSignature, request: InferRequest, batchable: boolean): PreparedRequest {
  if (!Array.isArray(request.inputs)) throw invalid('request has no inputs list');
  const given = new Map<string, Tensor>();
  for (const input of request.inputs) {
    if (given.has(input.name)) throw invalid(`input "${input.name}" appears more than once`);
    given.set(input.name, input);
  }
  const modelInputs = new Map(sig.inputs.map((t) => [t.name, t]));
  for (const name of given.keys()) {
    if (!modelInputs.has(name)) {
      throw invalid(`unknown input "${name}"; the model's inputs are: ${sig.inputs.map((t) => t.name).join(', ')}`);
    }
  }

  const inputs = sig.inputs.map((meta) => {
    const input = given.get(meta.name);
    if (input === undefined) throw invalid(`missing input "${meta.name}" (${meta.datatype} [${meta.shape.join(',')}])`);
    if (input.datatype !== meta.datatype) {
      throw invalid(`input "${meta.name}": datatype ${input.datatype} does not match the model's ${meta.datatype}`);
    }
    checkShape(input, meta.shape);
    if (!dataMatchesType(meta.datatype, input.data)) {
      throw invalid(
        `input "${meta.name}": ${meta.datatype} data must be a ${containerOf(meta.datatype)}, got ${containerNameOf(input.data)}` +
          (meta.datatype === 'BYTES' ? ' (every element a string)' : ''),
      );
    }
    if (meta.datatype === 'BOOL') {
      // onnxruntime would pass other byte values through as "true"s that are not 1.
      const at = (input.data as Uint8Array).findIndex((v) => v > 1);
      if (at >= 0) throw invalid(`input "${meta.name}": BOOL element ${at} is ${input.data[at]}, not 0 or 1`);
    }
    if (meta.datatype === 'BYTES') {
      // onnxruntime holds strings as C strings: everything after a NUL would be silently dropped.
      const at = (input.data as string[]).findIndex((v) => v.includes('\0'));
      if (at >= 0)
        throw invalid(
          `input "${meta.name}": element ${at} contains a NUL character, which the model's strings cannot hold`,
        );
    }
    const expected = elementCount(input.shape);
    if (input.data.length !== expected) {
      throw invalid(
        `input "${meta.name}": shape [${input.shape.join(',')}] needs ${expected} elements, got ${input.data.length}`,
      );
    }
    return input;
  });

  const modelOutputs = sig.outputs.map((t) => t.name);
  let outputs = modelOutputs;
  // An empty list asks for nothing in particular, like no list: every output.
  if (request.outputs !== undefined && (!Array.isArray(request.outputs) || request.outputs.length > 0)) {
    if (!Array.isArray(request.outputs)) throw invalid('requested outputs must be a list');
    outputs = request.outputs.map((o) => o.name);
    const seen = new Set<string>();
    for (const name of outputs) {
      if (!modelOutputs.includes(name)) {
        throw invalid(`unknown output "${name}"; the model's outputs are: ${modelOutputs.join(', ')}`);
      }
      if (seen.has(name)) throw invalid(`output "${name}" is requested more than once`);
      seen.add(name);
    }
  }

  if (!batchable) return { inputs, outputs };
  const rows = inputs[0].shape[0];
  const disagreeing = inputs.find((t) => t.shape[0] !== rows);
  if (disagreeing !== undefined) {
    throw invalid(
      `inputs disagree on the batch dimension: "${inputs[0].name}" has ${rows} rows, "${disagreeing.name}" has ${disagreeing.shape[0]}`,
    );
  }
  const batchKey = JSON.stringify([inputs.map((t) => t.shape.slice(1)), outputs]);
  return { inputs, outputs, rows, batchKey };
}
