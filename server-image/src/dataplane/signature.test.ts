import { dimOf, isBatchable, signatureOf, type ModelSignature } from './signature.js';
import { ModelLoadError } from './types.js';

describe('dimOf', () => {
  test.each([
    [4, 4],
    [0, 0],
    ['batch', -1],
    ['', -1],
    [-1, -1],
    [1.5, -1],
  ])('%p → %p', (dim, expected) => {
    expect(dimOf(dim)).toBe(expected);
  });
});

describe('signatureOf', () => {
  test('maps onnxruntime types to V2 datatypes and symbolic dims to -1', () => {
    const sig = signatureOf(
      [
        { name: 'x', isTensor: true, type: 'float32', shape: ['N', 4] },
        { name: 'k', isTensor: true, type: 'int64', shape: ['N', 1] },
        { name: 's', isTensor: true, type: 'string', shape: [2] },
        { name: 'h', isTensor: true, type: 'float16', shape: [] },
      ],
      [
        { name: 'y', isTensor: true, type: 'bool', shape: ['N'] },
        { name: 'zipmap', isTensor: false },
      ],
    );
    expect(sig).toEqual({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [-1, 4] },
        { name: 'k', datatype: 'INT64', shape: [-1, 1] },
        { name: 's', datatype: 'BYTES', shape: [2] },
        { name: 'h', datatype: 'FP16', shape: [] },
      ],
      outputs: [{ name: 'y', datatype: 'BOOL', shape: [-1] }],
    });
  });

  test.each([
    [
      'a non-tensor input',
      [{ name: 'm', isTensor: false }],
      [{ name: 'y', isTensor: true, type: 'float32', shape: [1] }],
      /input "m" is not a tensor/,
    ],
    [
      'an unsupported input type',
      [{ name: 'q', isTensor: true, type: 'int4', shape: [1] }],
      [{ name: 'y', isTensor: true, type: 'float32', shape: [1] }],
      /input "q" has element type int4/,
    ],
    [
      'no tensor outputs',
      [{ name: 'x', isTensor: true, type: 'float32', shape: [1] }],
      [{ name: 'm', isTensor: false }],
      /no tensor outputs/,
    ],
  ])('refuses %s', (_name, inputs, outputs, message) => {
    expect(() => signatureOf(inputs, outputs)).toThrow(ModelLoadError);
    expect(() => signatureOf(inputs, outputs)).toThrow(message);
  });
});

describe('isBatchable', () => {
  const sig = (inputs: number[][], outputs: number[][]): ModelSignature => ({
    inputs: inputs.map((shape, i) => ({ name: `i${i}`, datatype: 'FP32', shape })),
    outputs: outputs.map((shape, i) => ({ name: `o${i}`, datatype: 'FP32', shape })),
  });
  test.each([
    ['every first dim dynamic', sig([[-1, 4], [-1]], [[-1, 3]]), true],
    ['a fixed batch of 1', sig([[1, 4]], [[1, 3]]), false],
    [
      'one input fixed',
      sig(
        [
          [-1, 4],
          [2, 1],
        ],
        [[-1, 3]],
      ),
      false,
    ],
    ['an output without a batch dimension', sig([[-1, 4]], [[3]]), false],
    ['a scalar input', sig([[]], [[-1]]), false],
    ['no inputs', sig([], [[-1]]), false],
  ])('%s → %p', (_name, s, expected) => {
    expect(isBatchable(s)).toBe(expected);
  });
});
