import { RouterStats } from './stats.js';

describe('RouterStats', () => {
  const start = new Date('2026-01-01T00:00:00Z');

  it('accumulates per revision and kind into the documented shape', () => {
    const s = new RouterStats('router-0', start);
    s.record('a', 'live', 200, 0.5);
    s.record('a', 'live', 502, 3);
    s.record('a', 'live', 'timeout', 40_000);
    s.record('b', 'mirror', 200, 7);
    s.recordAgreement('b', true, 0.01);
    s.recordAgreement('b', false, 0.2);
    const doc = s.snapshot(new Date('2026-01-01T00:00:05Z'), 4);
    expect(doc).toMatchObject({
      version: 1,
      pod: 'router-0',
      startTime: '2026-01-01T00:00:00.000Z',
      time: '2026-01-01T00:00:05.000Z',
      routesGeneration: 4,
      agreement: { b: { compared: 2, agreed: 1, maxAbsDiff: 0.2 } },
    });
    const a = doc.revisions.a.live;
    expect(a).toMatchObject({ requests: 3, errors: 2, codes: { '2xx': 1, '5xx': 1, timeout: 1 } });
    expect(a.latencyMs.counts[0]).toBe(1); // ≤ 1 ms
    expect(a.latencyMs.counts[a.latencyMs.le.indexOf(5)]).toBe(2);
    expect(a.latencyMs.counts.at(-1)).toBe(2); // 40 s is only in +Inf
    expect(a.latencyMs.count).toBe(3);
    expect(doc.revisions.a.mirror.requests).toBe(0);
    expect(doc.revisions.b.mirror).toMatchObject({ requests: 1, errors: 0 });
  });

  it('publishes model metadata per revision and forgets revisions that left', () => {
    const s = new RouterStats('p', start);
    expect(s.snapshot(start, 1).models).toBeUndefined();
    const meta = { name: 'digits', versions: ['1'], platform: 'onnxruntime_onnx', inputs: [], outputs: [] };
    s.setModelMetadata('a', meta);
    s.setModelMetadata('b', { ...meta, name: 'other' });
    expect(s.snapshot(start, 1).models).toEqual({ a: { metadata: meta }, b: { metadata: { ...meta, name: 'other' } } });
    s.retainModels(new Set(['b']));
    expect(Object.keys(s.snapshot(start, 1).models ?? {})).toEqual(['b']);
  });

  it('snapshots are copies', () => {
    const s = new RouterStats('p', start);
    s.record('a', 'live', 200, 1);
    const doc = s.snapshot(start, null);
    s.record('a', 'live', 200, 1);
    expect(doc.revisions.a.live.requests).toBe(1);
  });

  it('publishes the load of every revision, even one with nothing answered yet', () => {
    let ms = 0;
    const s = new RouterStats('p', start, () => ms);
    s.record('a', 'live', 200, 1);
    const held = s.load('b');
    held.start();
    held.hold();
    ms += 2_000;
    const doc = s.snapshot(new Date('2026-01-01T00:00:02Z'), 3);
    expect(doc.revisions.a.load).toBeUndefined();
    expect(doc.revisions.b.load).toEqual({ inFlight: 1, held: 1, busyMs: 2_000, heldTotal: 1, heldRefused: 0 });
    expect(doc.revisions.b.live.requests).toBe(0);
  });
});
