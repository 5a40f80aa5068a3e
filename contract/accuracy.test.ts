import {
  MAX_LABELS_PER_POST,
  countLabels,
  parseLabelsRequest,
  subtractAccuracy,
  validateAccuracyRoute,
} from './accuracy.js';

describe('parseLabelsRequest', () => {
  it('takes labels per row, or one label for a one-row request, integers or strings', () => {
    expect(
      parseLabelsRequest({
        labels: [
          { id: 'a', labels: [3, 'cat'] },
          { id: 'b', label: 7 },
        ],
      }),
    ).toEqual({
      ok: true,
      value: {
        labels: [
          { id: 'a', labels: [3, 'cat'] },
          { id: 'b', labels: [7] },
        ],
        forwarded: false,
      },
    });
    expect(parseLabelsRequest({ labels: [{ id: 'a', label: 'x' }], forwarded: true })).toMatchObject({
      ok: true,
      value: { forwarded: true },
    });
  });

  it.each([
    [null, 'labels body: must be a JSON object'],
    [{}, `labels: must be an array of 1 to ${MAX_LABELS_PER_POST} entries`],
    [{ labels: {} }, `labels: must be an array of 1 to ${MAX_LABELS_PER_POST} entries`],
    [
      { labels: Array.from({ length: MAX_LABELS_PER_POST + 1 }, (_, i) => ({ id: `${i}`, label: 1 })) },
      /^labels: must be/,
    ],
    [{ labels: [1] }, 'labels[0]: must be an object'],
    [{ labels: [{ id: 'a', label: 1, labels: [1] }] }, 'labels[0]: needs either label or labels'],
    [{ labels: [{ id: 'a b', label: 1 }] }, /^labels\[0\]\.id: must be a request id/],
    [{ labels: [{ id: 'x'.repeat(201), label: 1 }] }, /^labels\[0\]\.id/],
    [{ labels: [{ id: 'a', label: true }] }, /^labels\[0\]\.label: must be an integer or a string/],
    [{ labels: [{ id: 'a', label: 2 ** 60 }] }, /^labels\[0\]\.label/],
    [{ labels: [{ id: 'a', labels: [] }] }, /^labels\[0\]\.labels: must be an array of 1 to/],
    [{ labels: [{ id: 'a', labels: [1, [2]] }] }, /^labels\[0\]\.labels\[1\]: must be an integer/],
    [{ labels: [{ id: 'a', label: 1 }, { id: 'b' }] }, 'labels[1]: needs either label or labels'],
    [{ labels: [{ id: 'a', label: 1, rows: 1 }] }, 'labels[0].rows: unknown field'],
    [{ labels: [{ id: 'a', label: 1 }], forwarded: 1 }, 'forwarded: must be a boolean'],
    [{ labels: [{ id: 'a', label: 1 }], extra: 1 }, 'extra: unknown field (expected labels)'],
  ])('refuses %j: %s', (body, error) => {
    const r = parseLabelsRequest(body);
    expect(r.ok).toBe(false);
    expect(r.ok ? undefined : r.error).toEqual(typeof error === 'string' ? error : expect.stringMatching(error));
  });
});

describe('accuracy counts', () => {
  it('adds joined rows cumulatively', () => {
    const a = countLabels(undefined, 3, 2);
    expect(countLabels(a, 2, 0)).toEqual({ labelled: 5, correct: 2 });
  });

  it('subtracts two readings into a window, a missing one counting as none', () => {
    expect(subtractAccuracy({ labelled: 10, correct: 7 }, { labelled: 4, correct: 4 })).toEqual({
      labelled: 6,
      correct: 3,
    });
    expect(subtractAccuracy({ labelled: 10, correct: 7 }, undefined)).toEqual({ labelled: 10, correct: 7 });
    expect(subtractAccuracy(undefined, undefined)).toEqual({ labelled: 0, correct: 0 });
  });
});

describe('validateAccuracyRoute', () => {
  it('takes a route and trims peers', () => {
    expect(
      validateAccuracyRoute(
        { ttlSeconds: 60, maxPending: 10, peers: ['http://10.0.0.1:8080/'] },
        'monitoring.accuracy',
      ),
    ).toEqual({ ok: true, value: { ttlSeconds: 60, maxPending: 10, peers: ['http://10.0.0.1:8080'] } });
  });

  it('names the field it refuses', () => {
    expect(validateAccuracyRoute({ ttlSeconds: 0, maxPending: 10, peers: [] }, 'm')).toEqual({
      ok: false,
      error: 'm.ttlSeconds: must be an integer between 1 and 604800',
    });
    expect(validateAccuracyRoute({ ttlSeconds: 1, maxPending: 10, peers: ['https://x'] }, 'm')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^m\.peers\[0\]: must be an http:\/\//),
    });
  });
});
