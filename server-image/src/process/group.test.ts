import { isToMember, isToPrimary } from './group.js';

describe('group messages', () => {
  it.each([
    [{ type: 'modelship:hello' }, true, false],
    [{ type: 'modelship:accepting' }, true, false],
    [{ type: 'modelship:ready' }, true, false],
    [{ type: 'modelship:model', path: '/m.onnx', sha256: 'ab' }, false, true],
    [{ type: 'modelship:group-ready' }, false, true],
    [{ type: 'modelship:failed', msg: 'model load failed', error: 'sha256 mismatch' }, true, false],
    [{ type: 'modelship:connection' }, false, true],
    [{ type: 'modelship:stop' }, false, true],
    // Retired names are nobody's.
    [{ type: 'modelship:listening', port: 8080 }, false, false],
    [{ type: 'modelship:drain' }, false, true],
    // prom-client's cluster protocol shares the IPC channel; node:cluster's own messages too.
    [{ type: 'prom-client:getMetricsReq', requestId: 1 }, false, false],
    [{ cmd: 'NODE_CLUSTER', act: 'online' }, false, false],
    ['modelship:ready', false, false],
    [null, false, false],
    [undefined, false, false],
  ])('%j is for the primary: %s, for a serving process: %s', (message, toPrimary, toMember) => {
    expect(isToPrimary(message)).toBe(toPrimary);
    expect(isToMember(message)).toBe(toMember);
  });
});
