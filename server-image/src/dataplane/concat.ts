/**
 * Concatenating requests along the batch dimension and splitting the outputs back, per request.
 */
import { concatData, sliceData } from './dtypes.js';
import type { PreparedRequest } from './validate.js';
import { InferError, type Tensor } from './types.js';

/**
 * One request whose inputs are the given requests' inputs concatenated along the first dimension.
 * The requests must share a batch key (same inputs, trailing shapes and outputs).
 */
export function concatRequests(requests: readonly PreparedRequest[]): PreparedRequest {
  if (requests.length === 1) return requests[0];
  const first = requests[0];
  const rows = requests.reduce((n, r) => n + (r.rows ?? 0), 0);
  const inputs = first.inputs.map((input, k): Tensor => ({
    name: input.name,
    datatype: input.datatype,
    shape: [rows, ...input.shape.slice(1)],
    data: concatData(
      input.datatype,
      requests.map((r) => r.inputs[k].data),
    ),
  }));
  return { inputs, outputs: first.outputs, rows, batchKey: first.batchKey };
}

/**
 * The outputs of a concatenated run, split back into one list per request (`rows[i]` rows each).
 * Throws InferError('internal') when an output's first dimension is not the total row count, which
 * means the model does not treat its first dimension as a batch.
 */
export function splitOutputs(outputs: readonly Tensor[], rows: readonly number[]): Tensor[][] {
  if (rows.length === 1) return [outputs.slice()];
  const total = rows.reduce((n, r) => n + r, 0);
  const perRequest: Tensor[][] = rows.map(() => []);
  for (const output of outputs) {
    if (output.shape.length === 0 || output.shape[0] !== total) {
      throw new InferError(
        'internal',
        `output "${output.name}" has shape [${output.shape.join(',')}], not ${total} rows, so a batch cannot be split`,
      );
    }
    const rowSize = total === 0 ? 0 : output.data.length / total;
    let start = 0;
    rows.forEach((r, i) => {
      perRequest[i].push({
        name: output.name,
        datatype: output.datatype,
        shape: [r, ...output.shape.slice(1)],
        data: sliceData(output.data, start * rowSize, (start + r) * rowSize),
      });
      start += r;
    });
  }
  return perRequest;
}
