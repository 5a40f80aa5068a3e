import { filterAuditEvents, parseAuditLog, type AuditEvent } from './audit.js';

function event(over: Partial<AuditEvent> & { verb: string; username: string; code?: number; at?: string }): string {
  const { username, code = 201, at = '2026-01-01T00:00:10Z', ...rest } = over;
  return JSON.stringify({
    auditID: Math.random().toString(16),
    stage: 'ResponseComplete',
    requestURI: '/x',
    user: { username },
    objectRef: { resource: 'configmaps', namespace: 'ns1', name: 'a' },
    responseStatus: { code },
    stageTimestamp: at,
    ...rest,
  });
}

const log = [
  event({ verb: 'create', username: 'op' }),
  event({ verb: 'patch', username: 'op', code: 409, at: '2026-01-01T00:00:20Z' }),
  event({ verb: 'delete', username: 'admin', objectRef: { resource: 'pods', namespace: 'ns2', name: 'p' } }),
  event({
    verb: 'update',
    username: 'admin',
    impersonatedUser: { username: 'op' },
    objectRef: { resource: 'configmaps', subresource: 'status', namespace: 'ns1', name: 'b' },
  }),
  JSON.stringify({
    stage: 'ResponseStarted',
    verb: 'watch',
    user: { username: 'op' },
    stageTimestamp: '2026-01-01T00:00:00Z',
  }),
  '{"kind":"Event","stage":"Respo', // a line the API server is still writing
].join('\n');

describe('parseAuditLog', () => {
  it('keeps one ResponseComplete event per request and skips a partial last line', () => {
    expect(parseAuditLog(log).map((e) => e.verb)).toEqual(['create', 'patch', 'delete', 'update']);
  });
});

describe('filterAuditEvents', () => {
  const events = parseAuditLog(log);
  it.each([
    ['every event', {}, ['create', 'patch', 'delete', 'update']],
    ['by user (impersonated counts as that user)', { user: 'op' }, ['create', 'patch', 'update']],
    ['by verbs', { verbs: ['delete', 'update'] }, ['delete', 'update']],
    ['by resource and namespace', { resource: 'configmaps', namespace: 'ns1' }, ['create', 'patch', 'update']],
    ['by subresource', { subresource: 'status' }, ['update']],
    ['by name', { name: 'p' }, ['delete']],
    ['since a time', { since: new Date('2026-01-01T00:00:15Z') }, ['patch']],
    ['succeeded only', { user: 'op', succeededOnly: true }, ['create', 'update']],
  ])('%s', (_what, filter, verbs) => {
    expect(filterAuditEvents(events, filter).map((e) => e.verb)).toEqual(verbs);
  });
});
