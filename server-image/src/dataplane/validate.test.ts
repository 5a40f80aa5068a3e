import type { ModelSignature } from './signature.js';
import { InferError, type InferRequest, type Tensor } from './types.js';
import { validateRequest } from './validate.js';

const twoInputs: ModelSignature = {
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [-1, 3] },
    { name: 'k', datatype: 'INT64', shape: [-1, 1] },
  ],
  outputs: [
    { name: 'scaled', datatype: 'FP32', shape: [-1, 3] },
    { name: 'total', datatype: 'FP32', shape: [-1, 1] },
  ],
};
const fixed: ModelSignature = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4] }],
  outputs: [{ name: 'label', datatype: 'INT64', shape: [1] }],
};
const strings: ModelSignature = {
  inputs: [{ name: 's', datatype: 'BYTES', shape: [-1, 2] }],
  outputs: [{ name: 'o', datatype: 'BYTES', shape: [-1, 2] }],
};

const x = (rows: number, data: Tensor['data'] = new Float32Array(rows * 3)): Tensor => ({
  name: 'x',
  datatype: 'FP32',
  shape: [rows, 3],
  data,
});
const k = (rows: number): Tensor => ({ name: 'k', datatype: 'INT64', shape: [rows, 1], data: new BigInt64Array(rows) });

describe('validateRequest refuses, naming the problem', () => {
  const cases: [string, ModelSignature, InferRequest, RegExp][] = [
    [
      'an unknown input',
      twoInputs,
      { inputs: [x(1), k(1), { ...x(1), name: 'y' }] },
      /unknown input "y"; the model's inputs are: x, k/,
    ],
    ['a missing input', twoInputs, { inputs: [x(1)] }, /missing input "k" \(INT64 \[-1,1\]\)/],
    ['a duplicated input', twoInputs, { inputs: [x(1), x(1), k(1)] }, /input "x" appears more than once/],
    [
      'a wrong datatype',
      twoInputs,
      { inputs: [{ ...x(1), datatype: 'FP64', data: new Float64Array(3) }, k(1)] },
      /input "x": datatype FP64 does not match the model's FP32/,
    ],
    [
      'a wrong rank',
      twoInputs,
      { inputs: [{ ...x(1), shape: [3] }, k(1)] },
      /input "x": shape \[3\] has rank 1, the model expects rank 2/,
    ],
    [
      'a wrong fixed dimension',
      twoInputs,
      { inputs: [{ ...x(1), shape: [1, 4], data: new Float32Array(4) }, k(1)] },
      /input "x": shape \[1,4\] does not match the model's \[-1,3\] at dimension 1/,
    ],
    [
      'a wrong fixed batch',
      fixed,
      { inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: new Float32Array(8) }] },
      /at dimension 0/,
    ],
    [
      'a negative dimension',
      twoInputs,
      { inputs: [{ ...x(1), shape: [-1, 3] }, k(1)] },
      /shape \[-1,3\] must be a list of non-negative integers/,
    ],
    [
      'a fractional dimension',
      twoInputs,
      { inputs: [{ ...x(1), shape: [1.5, 3] }, k(1)] },
      /must be a list of non-negative integers/,
    ],
    [
      'too few elements',
      twoInputs,
      { inputs: [x(2, new Float32Array(5)), k(2)] },
      /input "x": shape \[2,3\] needs 6 elements, got 5/,
    ],
    ['too many elements', twoInputs, { inputs: [x(1, new Float32Array(4)), k(1)] }, /needs 3 elements, got 4/],
    [
      'data in the wrong container',
      twoInputs,
      { inputs: [x(1, new Float64Array(3)), k(1)] },
      /input "x": FP32 data must be a Float32Array, got Float64Array/,
    ],
    [
      'numbers for BYTES',
      strings,
      { inputs: [{ name: 's', datatype: 'BYTES', shape: [1, 2], data: [1, 2] as unknown as string[] }] },
      /BYTES data must be a string\[\]/,
    ],
    [
      'a NUL inside a BYTES element',
      strings,
      { inputs: [{ name: 's', datatype: 'BYTES', shape: [1, 2], data: ['ok', 'a\u0000b'] }] },
      /input "s": element 1 contains a NUL character/,
    ],
    [
      'a BOOL element other than 0 or 1',
      {
        inputs: [{ name: 'b', datatype: 'BOOL', shape: [-1] }],
        outputs: [{ name: 'o', datatype: 'BOOL', shape: [-1] }],
      },
      { inputs: [{ name: 'b', datatype: 'BOOL', shape: [3], data: Uint8Array.from([0, 1, 2]) }] },
      /input "b": BOOL element 2 is 2, not 0 or 1/,
    ],
    [
      'disagreeing batch dimensions',
      twoInputs,
      { inputs: [x(2), k(3)] },
      /inputs disagree on the batch dimension: "x" has 2 rows, "k" has 3/,
    ],
    [
      'an unknown output',
      twoInputs,
      { inputs: [x(1), k(1)], outputs: [{ name: 'nope' }] },
      /unknown output "nope"; the model's outputs are: scaled, total/,
    ],
    [
      'a duplicated output',
      twoInputs,
      { inputs: [x(1), k(1)], outputs: [{ name: 'total' }, { name: 'total' }] },
      /output "total" is requested more than once/,
    ],
    ['no inputs list', twoInputs, {} as InferRequest, /request has no inputs list/],
  ];
  test.each(cases)('%s', (_name, sig, request, message) => {
    let caught: unknown;
    try {
      validateRequest(sig, request, sig !== fixed);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InferError);
    expect((caught as InferError).kind).toBe('invalid');
    expect((caught as InferError).message).toMatch(message);
  });
});

describe('validateRequest accepts', () => {
  test('inputs in any order, returned in the model order with every output', () => {
    const prepared = validateRequest(twoInputs, { inputs: [k(2), x(2)] }, true);
    expect(prepared.inputs.map((t) => t.name)).toEqual(['x', 'k']);
    expect(prepared.outputs).toEqual(['scaled', 'total']);
    expect(prepared.rows).toBe(2);
  });

  test('an empty outputs list as every output', () => {
    expect(validateRequest(twoInputs, { inputs: [x(1), k(1)], outputs: [] }, true).outputs).toEqual([
      'scaled',
      'total',
    ]);
  });

  test('requested outputs in the requested order', () => {
    const prepared = validateRequest(
      twoInputs,
      { inputs: [x(1), k(1)], outputs: [{ name: 'total' }, { name: 'scaled' }] },
      true,
    );
    expect(prepared.outputs).toEqual(['total', 'scaled']);
  });

  test('a Node Buffer as UINT8/BOOL data', () => {
    const sig: ModelSignature = {
      inputs: [{ name: 'b', datatype: 'BOOL', shape: [-1] }],
      outputs: [{ name: 'o', datatype: 'BOOL', shape: [-1] }],
    };
    expect(() =>
      validateRequest(sig, { inputs: [{ name: 'b', datatype: 'BOOL', shape: [2], data: Buffer.from([0, 1]) }] }, true),
    ).not.toThrow();
  });

  test('a fixed-shape model without batch key or rows', () => {
    const prepared = validateRequest(
      fixed,
      { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4) }] },
      false,
    );
    expect(prepared.rows).toBeUndefined();
    expect(prepared.batchKey).toBeUndefined();
  });

  test('batch keys equal for compatible requests and different otherwise', () => {
    const key = (request: InferRequest): string | undefined => validateRequest(twoInputs, request, true).batchKey;
    expect(key({ inputs: [x(1), k(1)] })).toBe(key({ inputs: [x(5), k(5)] }));
    expect(key({ inputs: [x(1), k(1)] })).not.toBe(key({ inputs: [x(1), k(1)], outputs: [{ name: 'total' }] }));
    const wide: ModelSignature = {
      inputs: [{ name: 'v', datatype: 'FP32', shape: [-1, -1] }],
      outputs: [{ name: 'o', datatype: 'FP32', shape: [-1] }],
    };
    const v = (cols: number): InferRequest => ({
      inputs: [{ name: 'v', datatype: 'FP32', shape: [1, cols], data: new Float32Array(cols) }],
    });
    expect(validateRequest(wide, v(2), true).batchKey).not.toBe(validateRequest(wide, v(3), true).batchKey);
  });
});
