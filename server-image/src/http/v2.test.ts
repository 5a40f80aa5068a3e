import { InferError, type InferResponse } from '../dataplane/types.js';
import { encodeBinaryBody, encodeTensorBytes } from './binary.js';
import { HttpError } from './errors.js';
import { decodeInferRequest, encodeInferResponse } from './v2.js';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe('decodeInferRequest (JSON)', () => {
  it('decodes every JSON datatype, nested data, id and parameters', () => {
    const { request } = decodeInferRequest(
      json({
        id: 'req-1',
        parameters: { priority: 2 },
        inputs: [
          {
            name: 'f',
            datatype: 'FP32',
            shape: [2, 2],
            data: [
              [1, 2],
              [3, 4.5],
            ],
          },
          { name: 'd', datatype: 'FP64', shape: [1], data: [0.1] },
          { name: 'i', datatype: 'INT32', shape: [2], data: [-5, 7] },
          { name: 'l', datatype: 'INT64', shape: [1], data: [9007199254740991] },
          { name: 'b', datatype: 'BOOL', shape: [3], data: [true, false, 1] },
          { name: 's', datatype: 'BYTES', shape: [2], data: ['x', ''], parameters: { content_type: 'str' } },
        ],
        outputs: [{ name: 'y' }],
      }),
      undefined,
    );
    expect(request.id).toBe('req-1');
    expect(request.parameters).toEqual({ priority: 2 });
    expect(request.outputs).toEqual([{ name: 'y' }]);
    const [f, d, i, l, b, s] = request.inputs;
    expect(f).toEqual({
      name: 'f',
      datatype: 'FP32',
      shape: [2, 2],
      data: Float32Array.from([1, 2, 3, 4.5]),
      parameters: undefined,
    });
    expect(d.data).toEqual(Float64Array.from([0.1]));
    expect(i.data).toEqual(Int32Array.from([-5, 7]));
    expect(l.data).toEqual(BigInt64Array.from([9007199254740991n]));
    expect(b.data).toEqual(Uint8Array.from([1, 0, 1]));
    expect(s.data).toEqual(['x', '']);
    expect(s.parameters).toEqual({ content_type: 'str' });
  });

  it.each([
    ['not JSON', Buffer.from('{"inputs": ['), HttpError, /malformed JSON in request body/],
    ['an array body', json([1]), InferError, /must be a JSON object/],
    ['no inputs', json({}), InferError, /"inputs" must be a non-empty array/],
    ['empty inputs', json({ inputs: [] }), InferError, /"inputs" must be a non-empty array/],
    ['numeric id', json({ id: 5, inputs: [{}] }), InferError, /"id" must be a string/],
    [
      'nameless input',
      json({ inputs: [{ datatype: 'FP32', shape: [1], data: [1] }] }),
      InferError,
      /inputs\[0\]: "name"/,
    ],
    [
      'unknown datatype',
      json({ inputs: [{ name: 'x', datatype: 'FLOAT', shape: [1], data: [1] }] }),
      InferError,
      /input 'x': unknown datatype "FLOAT"/,
    ],
    [
      'bad shape',
      json({ inputs: [{ name: 'x', datatype: 'FP32', shape: [-1], data: [1] }] }),
      InferError,
      /tensor 'x': shape must be/,
    ],
    [
      'count mismatch',
      json({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3] }] }),
      InferError,
      /shape \[2,2\] needs 4 elements, data has 3/,
    ],
    ['no data', json({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }] }), InferError, /"data" must be an array/],
    [
      'string in FP32',
      json({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2], data: [1, 'a'] }] }),
      InferError,
      /element 1 is "a", expected a number/,
    ],
    [
      'fraction in INT32',
      json({ inputs: [{ name: 'x', datatype: 'INT32', shape: [1], data: [1.5] }] }),
      InferError,
      /expected an integer/,
    ],
    [
      'INT32 overflow',
      json({ inputs: [{ name: 'x', datatype: 'INT32', shape: [1], data: [2 ** 31] }] }),
      InferError,
      /expected an integer in/,
    ],
    [
      'number in BOOL',
      json({ inputs: [{ name: 'x', datatype: 'BOOL', shape: [1], data: [2] }] }),
      InferError,
      /expected true or false/,
    ],
    [
      'number in BYTES',
      json({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [1], data: [2] }] }),
      InferError,
      /expected a string/,
    ],
    [
      'binary size without header',
      json({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } }] }),
      InferError,
      /no Inference-Header-Content-Length/,
    ],
    [
      'an object parameter',
      json({ parameters: { deep: { a: 1 } }, inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] }),
      InferError,
      /request: parameter 'deep' must be a string, number or boolean, got an object/,
    ],
    [
      'an array tensor parameter',
      json({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1], parameters: { p: [1] } }] }),
      InferError,
      /input 'x': parameter 'p'/,
    ],
    [
      'outputs not an array',
      json({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }], outputs: {} }),
      InferError,
      /"outputs" must be an array/,
    ],
  ])('rejects %s', (_what, body, type, message) => {
    expect(() => decodeInferRequest(body, undefined)).toThrow(type);
    expect(() => decodeInferRequest(body, undefined)).toThrow(message);
  });
});

describe('decodeInferRequest (binary extension)', () => {
  const header = {
    inputs: [
      { name: 'a', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } },
      { name: 'j', datatype: 'INT64', shape: [1], data: [3] },
      { name: 's', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: 13 } },
    ],
    outputs: [{ name: 'p', parameters: { binary_data: true } }, { name: 'q' }],
  };
  const blobs = [encodeTensorBytes(Float32Array.from([0.5, -1])), encodeTensorBytes(['hi', 'you'])];

  it('takes binary inputs in order from after the header, mixed with JSON inputs', () => {
    const { body, headerLength } = encodeBinaryBody(JSON.stringify(header), blobs);
    const { request, binaryOutput } = decodeInferRequest(body, String(headerLength));
    expect(request.inputs.map((t) => t.data)).toEqual([
      Float32Array.from([0.5, -1]),
      BigInt64Array.from([3n]),
      ['hi', 'you'],
    ]);
    expect(request.inputs[0].parameters).toBeUndefined();
    expect(binaryOutput('p')).toBe(true);
    expect(binaryOutput('q')).toBe(false);
  });

  it('honours binary_data_output for every output unless one says otherwise', () => {
    const h = {
      parameters: { binary_data_output: true },
      inputs: [{ name: 'j', datatype: 'INT64', shape: [1], data: [3] }],
      outputs: [{ name: 'q', parameters: { binary_data: false } }],
    };
    const { binaryOutput } = decodeInferRequest(json(h), undefined);
    expect(binaryOutput('p')).toBe(true);
    expect(binaryOutput('q')).toBe(false);
  });

  it('rejects a body with more bytes than the inputs claim', () => {
    const { body, headerLength } = encodeBinaryBody(JSON.stringify(header), [...blobs, Buffer.from([0])]);
    expect(() => decodeInferRequest(body, String(headerLength))).toThrow(
      /binary data has 22 bytes but the inputs' binary_data_size add up to 21/,
    );
  });

  it('rejects a truncated body', () => {
    const { body, headerLength } = encodeBinaryBody(JSON.stringify(header), blobs);
    expect(() => decodeInferRequest(body.subarray(0, body.length - 3), String(headerLength))).toThrow(
      /input 's': binary_data_size 13 runs past the end of the body \(10 bytes left\)/,
    );
  });

  it('rejects a binary_data_size that does not match the shape', () => {
    const h = { inputs: [{ name: 'a', datatype: 'FP32', shape: [3], parameters: { binary_data_size: 8 } }] };
    const { body, headerLength } = encodeBinaryBody(JSON.stringify(h), [Buffer.alloc(8)]);
    expect(() => decodeInferRequest(body, String(headerLength))).toThrow(
      /input 'a': FP32 shape needs 3 elements = 12 bytes, binary data has 8/,
    );
  });

  it('rejects a header length past the body', () => {
    expect(() => decodeInferRequest(Buffer.from('{}'), '50')).toThrow(/is 50 but the body has only 2 bytes/);
  });
});

describe('encodeInferResponse', () => {
  const response: InferResponse = {
    model_name: 'm',
    model_version: '1',
    id: 'r',
    outputs: [
      { name: 'p', datatype: 'FP32', shape: [1, 2], data: Float32Array.from([0.25, NaN]) },
      { name: 'l', datatype: 'INT64', shape: [2], data: BigInt64Array.from([2n ** 62n + 1n, -1n]) },
      { name: 'b', datatype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) },
      { name: 's', datatype: 'BYTES', shape: [1], data: ['q"uote'] },
    ],
  };

  it('writes JSON with exact 64-bit integers, booleans and null for NaN', () => {
    const encoded = encodeInferResponse(response, () => false);
    expect(encoded.contentType).toBe('application/json');
    expect(encoded.headerLength).toBeUndefined();
    const text = encoded.body as string;
    expect(text).toContain('"data":[4611686018427387905,-1]');
    expect(JSON.parse(text)).toEqual({
      model_name: 'm',
      model_version: '1',
      id: 'r',
      outputs: [
        { name: 'p', datatype: 'FP32', shape: [1, 2], data: [0.25, null] },
        { name: 'l', datatype: 'INT64', shape: [2], data: [4611686018427387904, -1] },
        { name: 'b', datatype: 'BOOL', shape: [2], data: [true, false] },
        { name: 's', datatype: 'BYTES', shape: [1], data: ['q"uote'] },
      ],
    });
  });

  it('writes binary outputs after the header, each with its binary_data_size', () => {
    const encoded = encodeInferResponse(response, (name) => name !== 'b');
    expect(encoded.contentType).toBe('application/octet-stream');
    const body = encoded.body as Buffer;
    const header = JSON.parse(body.subarray(0, encoded.headerLength).toString());
    expect(
      header.outputs.map((o: { parameters?: { binary_data_size?: number } }) => o.parameters?.binary_data_size),
    ).toEqual([8, 16, undefined, 10]);
    expect(header.outputs[2].data).toEqual([true, false]);
    const data = body.subarray(encoded.headerLength);
    expect(data.length).toBe(8 + 16 + 10);
    expect(new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + 8))[0]).toBe(0.25);
    expect(data.readBigInt64LE(8)).toBe(2n ** 62n + 1n);
    expect(data.subarray(28).toString()).toBe('q"uote');
  });
});
