/**
 * The warm-up request: zeros for every input, so the first real request does not pay for
 * onnxruntime's lazy allocations.
 */
import { zeros } from './dtypes.js';
import type { ModelSignature } from './signature.js';
import type { Tensor } from './types.js';

/** One all-zero input per model input; dynamic dimensions are 1, BYTES elements are "". */
export function warmupInputs(sig: ModelSignature): Tensor[] {
  return sig.inputs.map((meta) => {
    const shape = meta.shape.map((d) => (d === -1 ? 1 : d));
    return {
      name: meta.name,
      datatype: meta.datatype,
      shape,
      data: zeros(
        meta.datatype,
        shape.reduce((n, d) => n * d, 1),
      ),
    };
  });
}
