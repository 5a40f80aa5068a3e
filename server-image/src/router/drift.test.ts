import { createLogger } from '../../../common/log.js';
import { DriftObserver, decodeV1, decodeV2 } from './drift.js';
import type { ObservedExchange } from './observe.js';

const SETTINGS = { windowRows: 50, referenceRows: 50, threshold: 0.2 };
const REVISION = { name: 'digits-a', url: 'http://127.0.0.1:1', weight: 100, model: 'digits' };

/** A V2 exchange of one row whose pixels are all `pixel`, predicted `label`. */
function v2(pixel: number, label: number, extra: Partial<ObservedExchange> = {}): ObservedExchange {
  const json = (v: unknown) => ({ contentType: 'application/json', body: Buffer.from(JSON.stringify(v)) });
  return {
    revision: 'digits-a',
    requestId: 'r',
    method: 'POST',
    path: '/v2/models/digits/infer',
    at: 0,
    request: json({
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [[pixel, pixel, pixel, pixel]] }],
    }),
    status: 200,
    response: json({ outputs: [{ name: 'label', shape: [1], datatype: 'INT64', data: [label] }] }),
    ...extra,
  };
}

describe('decoding', () => {
  it('reads V2 rows, nested data flattened, and outputs with one value per row', () => {
    const batch = decodeV2(
      {
        inputs: [
          {
            name: 'input',
            shape: [2, 2],
            data: [
              [1, 2],
              [3, 4],
            ],
          },
        ],
      },
      {
        outputs: [
          { name: 'label', shape: [2], data: [7, 8] },
          { name: 'probabilities', shape: [2, 2], data: [0, 1, 1, 0] },
        ],
      },
    );
    expect(batch).toEqual({
      rows: 2,
      inputs: new Map([['input', [1, 2, 3, 4]]]),
      outputs: new Map([['label', [7, 8]]]),
    });
  });

  it('reads V1 instances as the sole input, and predictions keyed by output', () => {
    expect(
      decodeV1({ instances: [[1, 2]] }, { predictions: [{ label: 3, probabilities: [0.1] }] }, 'input', 'out'),
    ).toEqual({
      rows: 1,
      inputs: new Map([['input', [1, 2]]]),
      outputs: new Map([
        ['label', [3]],
        ['probabilities', [[0.1]]],
      ]),
    });
    expect(decodeV1({ instances: [[1, 2]] }, { predictions: [3] }, 'input', 'label')?.outputs).toEqual(
      new Map([['label', [3]]]),
    );
  });
});

describe('DriftObserver sampling', () => {
  it("observes at most sampleRps of each revision's requests per second, each revision on its own budget", () => {
    let now = 0;
    const other = { ...REVISION, name: 'digits-b' };
    const observer = new DriftObserver(SETTINGS, [REVISION, other], {
      log: createLogger('error'),
      sampleRps: 5,
      now: () => now,
    });
    const wanted = (revision: string, n: number): number =>
      Array.from({ length: n }, () => observer.wants(revision, 'POST', '/v2/models/digits/infer')).filter(Boolean)
        .length;
    expect(wanted('digits-a', 20)).toBe(5);
    expect(wanted('digits-b', 20)).toBe(5);
    now += 1000;
    expect(wanted('digits-a', 20)).toBe(5);
    // A routes change keeps each revision's budget.
    observer.configure(SETTINGS, [REVISION, other]);
    expect(wanted('digits-a', 20)).toBe(0);
    observer.close();
  });
});

describe('DriftObserver without a profile', () => {
  const observer = new DriftObserver(SETTINGS, [REVISION], { log: createLogger('error') });
  afterAll(() => observer.close());

  it('wants inference requests of its revisions only', () => {
    expect(observer.wants('digits-a', 'POST', '/v2/models/digits/infer')).toBe(true);
    expect(observer.wants('digits-a', 'POST', '/v1/models/digits:predict')).toBe(true);
    expect(observer.wants('digits-a', 'GET', '/v2/models/digits')).toBe(false);
    expect(observer.wants('other', 'POST', '/v2/models/digits/infer')).toBe(false);
  });

  it('takes the first rows as the reference, then scores the window against them', () => {
    for (let i = 0; i < 50; i++) observer.observe(v2(i % 2 === 0 ? 0 : 16, i % 2));
    expect(observer.read()['digits-a']).toEqual({
      reference: 'live',
      rows: 50,
      skipped: 0,
      inputPsi: null,
      outputPsi: null,
      windowRows: 0,
    });
    for (let i = 0; i < 50; i++) observer.observe(v2(i % 2 === 0 ? 0 : 16, i % 2));
    expect(observer.read()['digits-a']).toMatchObject({ inputPsi: 0, outputPsi: 0, windowRows: 50 });
    for (let i = 0; i < 50; i++) observer.observe(v2(8, 1));
    const drifted = observer.read()['digits-a'];
    expect(drifted.inputPsi).toBeGreaterThan(SETTINGS.threshold);
    expect(drifted.outputPsi).toBeGreaterThan(SETTINGS.threshold);
  });

  it('counts exchanges it cannot decode as skipped: binary bodies, errors, broken JSON', () => {
    const before = observer.read()['digits-a'].skipped ?? 0;
    observer.observe(v2(0, 0, { status: 500 }));
    observer.observe(v2(0, 0, { request: { inferenceHeaderLength: 10, body: Buffer.from('{}') } }));
    observer.observe(v2(0, 0, { response: { body: Buffer.from('{') } }));
    expect(observer.read()['digits-a'].skipped).toBe(before + 3);
  });

  it('keeps a window across a routes change that keeps its settings, and starts over on another', () => {
    const rows = observer.read()['digits-a'].rows;
    observer.configure(SETTINGS, [{ ...REVISION, weight: 50 }]);
    expect(observer.read()['digits-a'].rows).toBe(rows);
    observer.configure({ ...SETTINGS, windowRows: 60 }, [REVISION]);
    expect(observer.read()['digits-a']).toMatchObject({ rows: 0, windowRows: 0 });
  });
});
