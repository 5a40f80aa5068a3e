import { nextBatch, type BatchDecision, type QueuedRequest } from './batcher.js';

const limits = { maxBatchSize: 8, maxLatencyMs: 5 };
const q = (batchKey: string | undefined, rows: number, queuedAt: number): QueuedRequest => ({
  batchKey,
  rows,
  queuedAt,
});

describe('nextBatch', () => {
  const cases: [string, QueuedRequest[], number, BatchDecision][] = [
    ['empty queue is idle', [], 100, { kind: 'idle' }],
    ['one young request waits for its deadline', [q('a', 1, 100)], 101, { kind: 'wait', until: 105 }],
    ['one request past its deadline runs', [q('a', 1, 100)], 105, { kind: 'run', indices: [0] }],
    [
      'compatible requests join until the deadline',
      [q('a', 1, 100), q('a', 2, 101), q('a', 1, 102)],
      106,
      { kind: 'run', indices: [0, 1, 2] },
    ],
    [
      'a full batch runs before the deadline',
      [q('a', 4, 100), q('a', 4, 101), q('a', 1, 102)],
      101,
      { kind: 'run', indices: [0, 1] },
    ],
    [
      'a member that would overflow is skipped, a later one that fits joins',
      [q('a', 5, 100), q('a', 4, 100), q('a', 3, 100)],
      100,
      { kind: 'run', indices: [0, 2] },
    ],
    [
      'incompatible requests do not join',
      [q('a', 1, 100), q('b', 1, 100), q('a', 1, 101)],
      105,
      { kind: 'run', indices: [0, 2] },
    ],
    ['the oldest ready group runs first', [q('a', 1, 100), q('b', 1, 101)], 110, { kind: 'run', indices: [0] }],
    [
      'a later full group runs while the older one still waits',
      [q('a', 1, 100), q('b', 8, 101)],
      101,
      { kind: 'run', indices: [1] },
    ],
    ['waits for the earliest deadline among groups', [q('a', 1, 100), q('b', 1, 98)], 99, { kind: 'wait', until: 103 }],
    [
      'a request without a batch key runs alone at once',
      [q('a', 1, 100), q(undefined, 1, 100)],
      100,
      { kind: 'run', indices: [1] },
    ],
    [
      'a request as large as maxBatchSize runs alone',
      [q('a', 8, 100), q('a', 1, 100)],
      100,
      { kind: 'run', indices: [0] },
    ],
    ['a request larger than maxBatchSize runs alone', [q('a', 20, 100)], 100, { kind: 'run', indices: [0] }],
    ['a zero-row request runs alone', [q('a', 0, 100), q('a', 1, 100)], 100, { kind: 'run', indices: [0] }],
  ];
  test.each(cases)('%s', (_name, queue, now, expected) => {
    expect(nextBatch(queue, now, limits)).toEqual(expected);
  });

  test('maxLatencyMs 0 runs whatever is queued at once', () => {
    expect(nextBatch([q('a', 1, 100), q('a', 1, 100)], 100, { maxBatchSize: 8, maxLatencyMs: 0 })).toEqual({
      kind: 'run',
      indices: [0, 1],
    });
  });

  test('maxBatchSize 1 runs every request alone', () => {
    expect(nextBatch([q('a', 1, 100), q('a', 1, 100)], 100, { maxBatchSize: 1, maxLatencyMs: 5 })).toEqual({
      kind: 'run',
      indices: [0],
    });
  });
});
