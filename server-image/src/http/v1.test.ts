import type { InferResponse, Tensor } from '../dataplane/types.js';
import type { ModelMetadata } from '../../../contract/metadata.js';
import { instancesToRequest, parseInstances, predictionsFrom, shapeOf } from './v1.js';

const single: ModelMetadata = {
  name: 'tiny',
  versions: ['1'],
  platform: 'onnxruntime_onnx',
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
  outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
};
const double: ModelMetadata = {
  ...single,
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [-1, 3] },
    { name: 'k', datatype: 'INT64', shape: [-1, 1] },
  ],
};

describe('parseInstances', () => {
  it('accepts "instances" and the "inputs" alias', () => {
    expect(parseInstances(Buffer.from('{"instances":[[1]]}'))).toEqual([[1]]);
    expect(parseInstances(Buffer.from('{"inputs":[2]}'))).toEqual([2]);
  });
  it.each([
    ['{"instances":', /malformed JSON/],
    ['{"instances":[]}', /non-empty "instances" array/],
    ['[[1,2]]', /non-empty "instances" array/],
  ])('rejects %s', (body, message) => expect(() => parseInstances(Buffer.from(body))).toThrow(message));
});

describe('instancesToRequest', () => {
  it('stacks rows into one batch tensor typed by the model metadata', () => {
    const req = instancesToRequest(
      [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
      ],
      single,
    );
    expect(req.inputs).toEqual([
      { name: 'input', datatype: 'FP32', shape: [2, 4], data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) },
    ]);
  });

  it('takes objects keyed by input name for a model with several inputs', () => {
    const req = instancesToRequest(
      [
        { x: [1, 2, 3], k: [4] },
        { x: [0, 0, 1], k: [-2] },
      ],
      double,
    );
    expect(req.inputs[0]).toMatchObject({ name: 'x', shape: [2, 3], data: Float32Array.from([1, 2, 3, 0, 0, 1]) });
    expect(req.inputs[1]).toMatchObject({
      name: 'k',
      datatype: 'INT64',
      shape: [2, 1],
      data: BigInt64Array.from([4n, -2n]),
    });
  });

  it.each([
    ['plain rows for two inputs', [[1, 2, 3]], double, /has inputs x, k: send each instance as an object/],
    ['a missing input', [{ x: [1, 2, 3] }], double, /instances\[0\]: missing input 'k'/],
    [
      'ragged rows',
      [
        [1, 2, 3, 4],
        [1, 2],
      ],
      single,
      /instances\[1\]: input 'input' has shape \[2\], instances\[0\] has \[4\]/,
    ],
    ['a jagged row', [[[1, 2], [3]]], single, /not a rectangular array/],
    ['a string value', [[1, 2, 'x', 4]], single, /element 2 is "x", expected a number/],
  ])('rejects %s', (_what, instances, meta, message) => {
    expect(() => instancesToRequest(instances as unknown[], meta as ModelMetadata)).toThrow(message);
  });
});

describe('predictionsFrom', () => {
  const response: InferResponse = {
    model_name: 'm',
    model_version: '1',
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [2, 3], data: Float32Array.from([0.5, 0.25, 0.25, 0, 1, 0]) },
      { name: 'label', datatype: 'INT64', shape: [2], data: BigInt64Array.from([0n, 1n]) },
    ],
  };
  it('gives rows of the single output', () => {
    expect(predictionsFrom({ ...response, outputs: [response.outputs[0]] }, 2)).toEqual([
      [0.5, 0.25, 0.25],
      [0, 1, 0],
    ]);
  });
  it('gives objects keyed by output name for several outputs', () => {
    expect(predictionsFrom(response, 2)).toEqual([
      { probabilities: [0.5, 0.25, 0.25], label: 0 },
      { probabilities: [0, 1, 0], label: 1 },
    ]);
  });
  it('gives a single output that does not split into rows whole, as KServe does (result.tolist())', () => {
    const scalar: Tensor = { name: 'total', datatype: 'FP32', shape: [], data: Float32Array.from([21]) };
    expect(predictionsFrom({ ...response, outputs: [scalar] }, 2)).toBe(21);
    expect(predictionsFrom({ ...response, outputs: [response.outputs[0]] }, 3)).toEqual([
      [0.5, 0.25, 0.25],
      [0, 1, 0],
    ]);
  });
  it('puts an output that does not split into rows whole into each row of several', () => {
    const scalar: Tensor = { name: 'total', datatype: 'INT64', shape: [], data: BigInt64Array.from([2n ** 63n - 1n]) };
    const predictions = predictionsFrom({ ...response, outputs: [response.outputs[1], scalar] }, 2);
    expect(JSON.stringify(predictions)).toBe(
      '[{"label":0,"total":9223372036854775807},{"label":1,"total":9223372036854775807}]',
    );
  });
});

describe('shapeOf', () => {
  it.each([
    [3, []],
    [[1, 2], [2]],
    [
      [[1], [2], [3]],
      [3, 1],
    ],
  ])('%j → %j', (value, shape) => expect(shapeOf(value)).toEqual(shape));
});
