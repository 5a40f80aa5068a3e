import {
  DriftWindow,
  LiveReference,
  binOf,
  checkProfileFits,
  edgesFor,
  psi,
  validateProfile,
  type ReferenceProfile,
  type RowBatch,
} from './drift.js';

/** One feature binned at 0 (≤ 0, > 0) half and half, one class output of 0 and 1 half and half. */
const PROFILE: ReferenceProfile = {
  version: 1,
  rows: 100,
  inputs: [{ name: 'x', features: [{ edges: [0], proportions: [0.5, 0.5] }] }],
  outputs: [{ name: 'label', classes: [0, 1], proportions: [0.5, 0.5] }],
};

const batch = (xs: number[], labels: unknown[] = xs.map((x) => (x > 0 ? 1 : 0))): RowBatch => ({
  rows: xs.length,
  inputs: new Map([['x', xs]]),
  outputs: new Map([['label', labels]]),
});

describe('psi', () => {
  it('is 0 for the same shares', () => {
    expect(psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5])).toBe(0);
  });

  it('is Σ (a − e)·ln(a/e): 0.5/0.5 against 0.7/0.3 is 0.2·ln 1.4 + 0.2·ln(1/0.6)', () => {
    expect(psi([0.5, 0.5], [0.7, 0.3])).toBeCloseTo(0.169459, 5);
  });

  it('floors an empty bin at 1e-4 instead of an infinite score', () => {
    // (0.5 − 1)·ln 0.5 + (0.5 − 1e-4)·ln(0.5 / 1e-4)
    expect(psi([1, 0], [0.5, 0.5])).toBeCloseTo(4.604319, 5);
  });
});

describe('bins', () => {
  it('puts a value in the first bin whose upper edge it does not pass, above the last in the top bin', () => {
    expect([-1, 0, 0.5, 1, 2, 3, NaN].map((v) => binOf([0, 1, 2], v))).toEqual([0, 0, 1, 1, 2, 3, 3]);
  });

  it('gives a feature with few distinct values one bin per value', () => {
    expect(edgesFor([0, 0, 0, 16, 1, 2, 0])).toEqual([0, 1, 2, 16]);
  });

  it('merges values rarer than 5% of the rows into the bin above, the last into the bin below', () => {
    // 0: 90 rows, 1..3: 2 rows each (6%), 4: 4 rows (4%, short: joins the last bin, which now ends at 4)
    const values = [...new Array<number>(90).fill(0), 1, 1, 2, 2, 3, 3, 4, 4, 4, 4];
    expect(edgesFor(values)).toEqual([0, 4]);
  });

  it('gives a feature with many values its distinct deciles', () => {
    expect(edgesFor(Array.from({ length: 100 }, (_, i) => 99 - i))).toEqual([9, 19, 29, 39, 49, 59, 69, 79, 89]);
  });
});

describe('DriftWindow', () => {
  it('reads nothing until the window is full', () => {
    const w = new DriftWindow(PROFILE, 4);
    w.add(batch([0, 1, 0]));
    expect(w.read()).toEqual({ inputPsi: null, outputPsi: null, windowRows: 3 });
  });

  it('scores a window like the reference 0, a shifted one high, and forgets rows that slid out exactly', () => {
    const w = new DriftWindow(PROFILE, 4);
    w.add(batch([0, 1, 0, 1]));
    expect(w.read()).toEqual({ inputPsi: 0, feature: 'x[0]', outputPsi: 0, windowRows: 4 });
    w.add(batch([5, 5, 5, 5]));
    const shifted = w.read();
    expect(shifted.inputPsi).toBeCloseTo(4.604319, 5);
    expect(shifted.outputPsi).toBeCloseTo(4.604319, 5);
    w.add(batch([0, 1]));
    expect(w.read().inputPsi).toBeCloseTo(psi([0.5, 0.5], [0.25, 0.75]), 12);
    w.add(batch([0, 1]));
    expect(w.read()).toEqual({ inputPsi: 0, feature: 'x[0]', outputPsi: 0, windowRows: 4 });
  });

  it('counts a predicted class the reference never saw in a bin of its own', () => {
    const w = new DriftWindow(PROFILE, 2);
    w.add(batch([0, 1], [7, 7]));
    // classes 0, 1 at 0.5 each (floored actual 1e-4), and the unseen class at 1 against a floored 1e-4
    expect(w.read().outputPsi).toBeCloseTo(2 * (0.5 - 1e-4) * Math.log(0.5 / 1e-4) + (1 - 1e-4) * Math.log(1e4), 6);
  });

  it('names the feature with the largest PSI', () => {
    const two: ReferenceProfile = {
      ...PROFILE,
      inputs: [{ name: 'x', features: [PROFILE.inputs[0].features[0], { edges: [0], proportions: [0.5, 0.5] }] }],
    };
    const w = new DriftWindow(two, 2);
    w.add({ rows: 2, inputs: new Map([['x', [0, 5, 1, 5]]]), outputs: new Map() });
    expect(w.read()).toMatchObject({ inputPsi: expect.closeTo(4.604319, 5), feature: 'x[1]', outputPsi: null });
  });

  it('leaves out an input whose values do not fit its features', () => {
    const w = new DriftWindow(PROFILE, 2);
    w.add({ rows: 2, inputs: new Map([['x', [0, 1, 2]]]), outputs: new Map([['label', [0, 1]]]) });
    expect(w.read()).toEqual({ inputPsi: null, outputPsi: 0, windowRows: 2 });
  });
});

describe('LiveReference', () => {
  it('makes the first rows a profile: one bin per pixel value, the classes seen', () => {
    const ref = new LiveReference(4);
    expect(ref.add(batch([0, 0, 16]))).toBe(3);
    expect(ref.complete).toBe(false);
    expect(ref.add(batch([16, 16, 16]))).toBe(1);
    expect(ref.complete).toBe(true);
    expect(ref.profile()).toEqual({
      version: 1,
      rows: 4,
      inputs: [{ name: 'x', features: [{ edges: [0, 16], proportions: [0.5, 0.5, 0] }] }],
      outputs: [{ name: 'label', classes: [0, 1], proportions: [0.5, 0.5] }],
    });
  });

  it('takes no rows of a batch shaped unlike the first', () => {
    const ref = new LiveReference(10);
    ref.add(batch([0, 1]));
    expect(ref.add({ rows: 1, inputs: new Map([['x', [0, 1]]]), outputs: new Map([['label', [0]]]) })).toBe(0);
  });

  it('leaves out an output that is not classes (fractions)', () => {
    const ref = new LiveReference(2);
    ref.add(batch([0, 1], [0.25, 0.75]));
    expect(ref.profile().outputs).toEqual([]);
  });
});

describe('validateProfile', () => {
  it('accepts a profile', () => {
    expect(validateProfile(PROFILE)).toEqual({ ok: true, value: PROFILE });
  });

  it.each([
    ['another version', { ...PROFILE, version: 2 }, 'profile.version: must be 1'],
    [
      'edges out of order',
      { ...PROFILE, inputs: [{ name: 'x', features: [{ edges: [1, 0], proportions: [0.5, 0.5, 0] }] }] },
      'profile.inputs[0].features[0].edges: must be finite numbers in strictly ascending order',
    ],
    [
      'one share too few',
      { ...PROFILE, inputs: [{ name: 'x', features: [{ edges: [0], proportions: [1] }] }] },
      'profile.inputs[0].features[0].proportions: must be 2 numbers',
    ],
    [
      'shares that do not sum to 1',
      { ...PROFILE, outputs: [{ name: 'label', classes: [0, 1], proportions: [0.5, 0.6] }] },
      'profile.outputs[0].proportions: must sum to 1 (they sum to 1.1)',
    ],
    [
      'a class twice',
      { ...PROFILE, outputs: [{ name: 'label', classes: [1, '1'], proportions: [0.5, 0.5] }] },
      'profile.outputs[0].classes: must be 1 to 254 distinct numbers or strings',
    ],
  ])('refuses %s', (_what, profile, error) => {
    expect(validateProfile(profile)).toEqual({ ok: false, error });
  });
});

describe('checkProfileFits', () => {
  const model = { inputs: [{ name: 'x', shape: [-1, 1] }], outputs: [{ name: 'label' }] };

  it('accepts a profile of the model', () => {
    expect(checkProfileFits(PROFILE, model)).toEqual({ ok: true });
  });

  it('refuses a profile of another model', () => {
    expect(checkProfileFits(PROFILE, { ...model, inputs: [{ name: 'x', shape: [-1, 64] }] })).toEqual({
      ok: false,
      error: 'profile input x: 1 features, the model takes 64 values per row',
    });
    expect(checkProfileFits(PROFILE, { ...model, outputs: [{ name: 'probabilities' }] })).toEqual({
      ok: false,
      error: 'profile output label: the model has no such output',
    });
  });
});
