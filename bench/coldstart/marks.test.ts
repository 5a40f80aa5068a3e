/** Tests for marks.ts: the parts of a start and the records they are read from (node:test). */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  afterAnswer,
  heldIn,
  holdsIn,
  klogTime,
  kubeletMarks,
  median,
  partsOf,
  processStart,
  routerDirect,
  serverMarks,
} from './marks.js';

test('parts run from the trigger to the answer and add up to the total', () => {
  const parts = partsOf({ trigger: 1000, scaled: 1100, podCreated: 1150, modelReady: 2000, answered: 2300 });
  assert.deepEqual(parts, [
    { mark: 'scaled', ms: 100 },
    { mark: 'podCreated', ms: 50 },
    { mark: 'modelReady', ms: 850 },
    { mark: 'answered', ms: 300 },
  ]);
  assert.equal(
    parts.reduce((sum, p) => sum + p.ms, 0),
    1300,
  );
});

test('a moment seen before an earlier one counts 0 and the next part starts from the later', () => {
  // The pod's watch event arrived after the kubelet had already picked it up.
  const parts = partsOf({ trigger: 0, scheduled: 300, kubeletSaw: 250, sandboxStarted: 500 });
  assert.deepEqual(parts, [
    { mark: 'scheduled', ms: 300 },
    { mark: 'kubeletSaw', ms: 0 },
    { mark: 'sandboxStarted', ms: 200 },
  ]);
});

test('no trigger, no parts', () => {
  assert.deepEqual(partsOf({ answered: 5 }), []);
});

test('klog times are read in the local time zone with microseconds', () => {
  const at = klogTime('I1207 13:57:12.928971    5501 kubelet.go:2707] "SyncLoop (probe)"', 2026);
  assert.equal(at, new Date(2026, 11, 7, 13, 57, 12).getTime() + 928.971);
  assert.equal(klogTime('not a klog line', 2026), undefined);
});

test("the kubelet's first line for the pod, and its startup and readiness probes", () => {
  const lines = [
    'I1207 13:57:12.900000    1 kubelet.go:1] "SyncLoop ADD" pod="ns/other"',
    'I1207 13:57:12.928971    1 reconciler_common.go:251] "operationExecutor.VerifyControllerAttachedVolume started for volume \\"tmp\\" pod \\"web-1\\" (UID: \\"u\\") " pod="ns/web-1"',
    'I1207 13:57:14.100243    1 kubelet.go:2707] "SyncLoop (probe)" probe="readiness" status="not ready" pod="ns/web-1"',
    'I1207 13:57:14.115289    1 kubelet.go:2707] "SyncLoop (probe)" probe="startup" status="started" pod="ns/web-1"',
    'I1207 13:57:14.918037    1 kubelet.go:2707] "SyncLoop (probe)" probe="readiness" status="ready" pod="ns/web-1"',
    'I1207 13:57:15.918037    1 kubelet.go:2707] "SyncLoop (probe)" probe="readiness" status="ready" pod="ns/web-1"',
  ];
  const t = (s: number, ms: number): number => new Date(2026, 11, 7, 13, 57, s).getTime() + ms;
  assert.deepEqual(kubeletMarks(lines, 'ns/web-1', 2026), {
    kubeletSaw: t(12, 928.971),
    startupProbe: t(14, 115.289),
    readinessProbe: t(14, 918.037),
  });
});

test("the server's listening, model fetched, loaded and ready lines; other lines skipped", () => {
  const lines = [
    '{"time":"2026-12-07T13:57:13.542Z","level":"info","msg":"listening","port":8080}',
    '\u001b[0;93m2026-12-07 13:57:13.977587933 [W:onnxruntime:onnxruntime-node, telemetry.cc:800 operator()] ...\u001b[m',
    '{"time":"2026-12-07T13:57:13.593Z","level":"info","msg":"model fetched","seconds":0.03}',
    '{"time":"2026-12-07T13:57:13.950Z","level":"info","msg":"model loaded","seconds":0.35,"readSeconds":0.002,"sessionSeconds":0.2,"warmupSeconds":0.1}',
    // A second serving process of the group, done later: the server was ready only after it.
    '{"time":"2026-12-07T13:57:13.980Z","level":"info","msg":"model loaded","seconds":0.38,"readSeconds":0.002,"sessionSeconds":0.2,"warmupSeconds":0.125}',
    '{"time":"2026-12-07T13:57:13.987Z","level":"info","msg":"model ready","model":"digits"}',
    '{not json',
  ];
  assert.deepEqual(serverMarks(lines), {
    listening: Date.parse('2026-12-07T13:57:13.542Z'),
    modelFetched: Date.parse('2026-12-07T13:57:13.593Z'),
    // The session was created when the warm-up began: 125 ms before the "model loaded" line.
    sessionCreated: Date.parse('2026-12-07T13:57:13.855Z'),
    warmedUp: Date.parse('2026-12-07T13:57:13.980Z'),
    modelReady: Date.parse('2026-12-07T13:57:13.987Z'),
  });
});

test('a process start from /proc/<pid>/stat (ticks since boot) and /proc/uptime', () => {
  // Field 22 (starttime) is 3000 ticks = 30 s after boot; the machine has been up 100 s.
  const stat =
    '7231 (pause) S 7211 7231 7231 0 -1 4194560 96 0 0 0 0 0 0 0 20 0 1 0 3000 1019904 1 18446744073709551615';
  assert.equal(processStart(stat, '100.00 150.00\n', 1_000_000), 1_000_000 - 100_000 + 30_000);
  // A command name with spaces and parentheses does not shift the fields.
  const odd = '9 (node (main) x) S 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0 0';
  assert.equal(processStart(odd, '10 0', 50_000), 50_000 - 10_000 + 5_000);
});

test('median of the values seen', () => {
  assert.equal(median([3, undefined, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(median([undefined]), undefined);
});

test("the routes' hold for a route, and the held requests over the routers' stats documents", () => {
  const routes = {
    'routes.json': JSON.stringify({ generation: 3, revisions: [{ name: 'd-a', weight: 100, hold: true }] }),
  };
  assert.equal(holdsIn(routes, 'd-a'), true);
  assert.equal(holdsIn({ 'routes.json': '{"generation":4,"revisions":[{"name":"d-a","weight":100}]}' }, 'd-a'), false);
  assert.equal(holdsIn(routes, 'd-b'), undefined);
  assert.equal(holdsIn({ 'routes.json': 'not json' }, 'd-a'), undefined);
  const doc = (held: number, heldTotal: number): string =>
    JSON.stringify({ revisions: { 'd-a': { load: { inFlight: held, held, busyMs: 0, heldTotal, heldRefused: 0 } } } });
  // Two router pods, and a key that is not a stats document.
  assert.deepEqual(heldIn({ 'r-1.json': doc(2, 5), 'r-2.json': doc(1, 3), other: doc(9, 9) }, 'd-a'), {
    held: 3,
    heldTotal: 8,
  });
  // A router from before autoscaling has no load.
  assert.deepEqual(heldIn({ 'r-1.json': JSON.stringify({ revisions: { 'd-a': {} } }) }, 'd-a'), {
    held: 0,
    heldTotal: 0,
  });
});

test('moments after the answer are off its path: left out of the parts, listed after it', () => {
  // The router sent to the pod directly: the answer came before the pod's Ready reached the API.
  const marks = { trigger: 0, modelReady: 1200, readinessProbe: 1900, podReady: 1950, answered: 1300 };
  assert.deepEqual(partsOf(marks), [
    { mark: 'modelReady', ms: 1200 },
    { mark: 'answered', ms: 100 },
  ]);
  assert.deepEqual(afterAnswer(marks), [
    { mark: 'readinessProbe', ms: 600 },
    { mark: 'podReady', ms: 650 },
  ]);
  assert.deepEqual(afterAnswer({ trigger: 0, podReady: 5 }), []);
});

test("a router's direct send: the first line for the route at or after the trigger", () => {
  const line = (time: string, revision: string): string =>
    JSON.stringify({
      time,
      level: 'info',
      msg: "a starting pod answered ready: sending its revision's requests to it straight",
      component: 'router',
      revision,
      pod: 'http://10.244.0.9:8080',
      probes: 12,
    });
  const lines = [
    line('2026-12-07T15:00:00.000Z', 'd-a'), // an earlier round
    line('2026-12-07T15:01:02.500Z', 'd-b'),
    line('2026-12-07T15:01:03.200Z', 'd-a'),
    line('2026-12-07T15:01:02.900Z', 'd-a'), // the other router pod, earlier
    'not json',
  ];
  assert.equal(routerDirect(lines, 'd-a', Date.parse('2026-12-07T15:01:00Z')), Date.parse('2026-12-07T15:01:02.900Z'));
  assert.equal(routerDirect(lines, 'd-c', 0), undefined);
});
