import { compareOutputs, compareResponses, decodeOutputs } from './agreement.js';

const json = (doc: unknown) => Buffer.from(JSON.stringify(doc));
const v2 = (outputs: unknown[]) => json({ model_name: 'm', model_version: '1', outputs });

/** A V2 binary-extension body: JSON header then the raw tensors. */
function binary(outputs: { name: string; datatype: string; shape: number[]; raw: Buffer }[]) {
  const header = Buffer.from(
    JSON.stringify({
      model_name: 'm',
      outputs: outputs.map((o) => ({
        name: o.name,
        datatype: o.datatype,
        shape: o.shape,
        parameters: { binary_data_size: o.raw.length },
      })),
    }),
  );
  return { body: Buffer.concat([header, ...outputs.map((o) => o.raw)]), inferenceHeaderLength: header.length };
}

describe('decodeOutputs', () => {
  it('decodes V2 JSON, flat and nested', () => {
    expect(
      decodeOutputs(
        v2([
          {
            name: 'y',
            datatype: 'FP32',
            shape: [2, 2],
            data: [
              [1, 2],
              [3, 4],
            ],
          },
        ]),
      ),
    ).toEqual([{ name: 'y', datatype: 'FP32', shape: [2, 2], values: [1, 2, 3, 4] }]);
  });

  it('decodes the V2 binary extension for every numeric type and BYTES', () => {
    const f32 = Buffer.alloc(8);
    f32.writeFloatLE(0.5, 0);
    f32.writeFloatLE(-2, 4);
    const i64 = Buffer.alloc(16);
    i64.writeBigInt64LE(7n, 0);
    i64.writeBigInt64LE(-3n, 8);
    const f16 = Buffer.from([0x00, 0x3c, 0x00, 0xc0]); // 1.0, -2.0
    const bytes = Buffer.concat([Buffer.from([2, 0, 0, 0]), Buffer.from('hi')]);
    const b = binary([
      { name: 'p', datatype: 'FP32', shape: [1, 2], raw: f32 },
      { name: 'l', datatype: 'INT64', shape: [2], raw: i64 },
      { name: 'h', datatype: 'FP16', shape: [2], raw: f16 },
      { name: 's', datatype: 'BYTES', shape: [1], raw: bytes },
    ]);
    expect(decodeOutputs(b.body, b.inferenceHeaderLength)?.map((o) => o.values)).toEqual([
      [0.5, -2],
      [7, -3],
      [1, -2],
      ['hi'],
    ]);
  });

  it('decodes KServe V1 predictions with their shape', () => {
    expect(
      decodeOutputs(
        json({
          predictions: [
            [0.1, 0.9],
            [0.8, 0.2],
          ],
        }),
      ),
    ).toEqual([{ name: 'predictions', shape: [2, 2], values: [0.1, 0.9, 0.8, 0.2] }]);
  });

  it.each([
    ['an error body', json({ error: 'boom' })],
    ['HTML', Buffer.from('<html>')],
    ['outputs without datatype', v2([{ name: 'y', shape: [1], data: [1] }])],
    ['objects inside data', v2([{ name: 'y', datatype: 'FP32', shape: [1], data: [{}] }])],
  ])('returns undefined for %s', (_n, body) => {
    expect(decodeOutputs(body)).toBeUndefined();
  });

  it('returns undefined for truncated binary data or a wrong header length', () => {
    const b = binary([{ name: 'p', datatype: 'FP32', shape: [2], raw: Buffer.alloc(8) }]);
    expect(decodeOutputs(b.body.subarray(0, b.body.length - 1), b.inferenceHeaderLength)).toBeUndefined();
    expect(decodeOutputs(b.body, b.body.length + 5)).toBeUndefined();
  });
});

describe('compareOutputs', () => {
  const scores = (data: number[][], datatype = 'FP32') => [
    { name: 'probabilities', datatype, shape: [data.length, data[0].length], values: data.flat() },
  ];
  const cases: [string, Parameters<typeof compareOutputs>[0], Parameters<typeof compareOutputs>[1], number, boolean][] =
    [
      [
        'same top class, different scores',
        scores([
          [0.1, 0.9],
          [0.7, 0.3],
        ]),
        scores([
          [0.4, 0.6],
          [0.51, 0.49],
        ]),
        1e-3,
        true,
      ],
      [
        'different top class in one row',
        scores([
          [0.1, 0.9],
          [0.7, 0.3],
        ]),
        scores([
          [0.1, 0.9],
          [0.3, 0.7],
        ]),
        1e-3,
        false,
      ],
      [
        'regression within tolerance',
        [{ name: 'y', datatype: 'FP32', shape: [2, 1], values: [1, 2] }],
        [{ name: 'y', datatype: 'FP32', shape: [2, 1], values: [1.0005, 2] }],
        1e-3,
        true,
      ],
      [
        'regression outside tolerance',
        [{ name: 'y', datatype: 'FP32', shape: [2], values: [1, 2] }],
        [{ name: 'y', datatype: 'FP32', shape: [2], values: [1, 2.1] }],
        1e-3,
        false,
      ],
      [
        'integer labels equal',
        [{ name: 'label', datatype: 'INT64', shape: [2], values: [3, 4] }],
        [{ name: 'label', datatype: 'INT64', shape: [2], values: [3, 4] }],
        1e-3,
        true,
      ],
      [
        'integer labels differ',
        [{ name: 'label', datatype: 'INT64', shape: [2], values: [3, 4] }],
        [{ name: 'label', datatype: 'INT64', shape: [2], values: [3, 5] }],
        1e-3,
        false,
      ],
      [
        'different shapes',
        scores([[0.1, 0.9]]),
        scores([
          [0.1, 0.9],
          [0.1, 0.9],
        ]),
        1e-3,
        false,
      ],
      [
        'missing output',
        scores([[0.1, 0.9]]),
        [{ name: 'other', datatype: 'FP32', shape: [1, 2], values: [0.1, 0.9] }],
        1e-3,
        false,
      ],
      [
        'strings equal',
        [{ name: 's', datatype: 'BYTES', shape: [1], values: ['cat'] }],
        [{ name: 's', datatype: 'BYTES', shape: [1], values: ['cat'] }],
        0,
        true,
      ],
      [
        'strings differ',
        [{ name: 's', datatype: 'BYTES', shape: [1], values: ['cat'] }],
        [{ name: 's', datatype: 'BYTES', shape: [1], values: ['dog'] }],
        0,
        false,
      ],
      [
        'NaN never agrees',
        [{ name: 'y', datatype: 'FP32', shape: [1], values: [NaN] }],
        [{ name: 'y', datatype: 'FP32', shape: [1], values: [1] }],
        1,
        false,
      ],
    ];
  it.each(cases)('%s', (_n, a, b, tolerance, agree) => {
    const c = compareOutputs(a, b, tolerance);
    expect(c.comparable).toBe(true);
    expect(c.agree).toBe(agree);
  });

  it('reports the max absolute difference', () => {
    expect(compareOutputs(scores([[0.1, 0.9]]), scores([[0.35, 0.65]]), 0).maxAbsDiff).toBeCloseTo(0.25);
  });

  it('compares V1 class scores by top class', () => {
    const c = compareResponses(
      { body: json({ predictions: [[0.2, 0.8]] }) },
      { body: json({ predictions: [[0.4, 0.6]] }) },
      0,
    );
    expect(c).toEqual({ comparable: true, agree: true, maxAbsDiff: expect.closeTo(0.2) });
  });

  it('is not comparable when either side is not an inference response', () => {
    expect(compareResponses({ body: v2([]) }, { body: json({ error: 'x' }) }, 0).comparable).toBe(false);
  });
});
