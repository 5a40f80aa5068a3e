import type { ModelDeployment } from '../api/types.js';
import { midCanary, rolledBack } from './fixtures.js';
import { actionProgress, outcomeReport, verdictOf, type ActionEvent, type Outcome } from './verdict.js';

const VALUE = 'abort@2026-12-07T090000Z';

function withAction(annotation: string | undefined, lastAction: string | undefined): ModelDeployment {
  const md = midCanary();
  if (annotation !== undefined) md.metadata.annotations = { 'modelship.dev/action': annotation };
  if (lastAction !== undefined) md.status!.lastAction = lastAction;
  return md;
}

describe('actionProgress', () => {
  it.each<[string, ModelDeployment | undefined, ReturnType<typeof actionProgress>]>([
    ['written, not handled yet', withAction(VALUE, 'promote@2026-12-07T080000Z'), { state: 'pending' }],
    ['handled: status.lastAction is the value', withAction(VALUE, VALUE), { state: 'handled' }],
    [
      'handled even when the annotation moved on since',
      withAction('retry@2026-12-07T090001Z', VALUE),
      { state: 'handled' },
    ],
    [
      'another value written over it',
      withAction('retry@2026-12-07T090001Z', undefined),
      { state: 'superseded', by: 'retry@2026-12-07T090001Z' },
    ],
    ['the annotation removed', withAction(undefined, undefined), { state: 'superseded', by: '(annotation removed)' }],
    ['deleted', undefined, { state: 'deleted' }],
    [
      'being deleted',
      (() => {
        const md = withAction(VALUE, undefined);
        md.metadata.deletionTimestamp = '2026-12-07T09:00:01Z';
        return md;
      })(),
      { state: 'deleted' },
    ],
  ])('%s', (_, md, expected) => {
    expect(actionProgress(md, VALUE)).toEqual(expected);
  });
});

describe('verdictOf', () => {
  const event = (reason: string, message: string, uid = 'uid-1'): ActionEvent => ({
    reason,
    message,
    involvedObject: { uid },
  });
  const refused = event(
    'ActionRefused',
    `action ${VALUE} ignored: it targets revision 0123456789, the candidate is a1b2c3d4e5`,
  );

  it.each<[string, ActionEvent[], ReturnType<typeof verdictOf>]>([
    ['no Event yet', [event('StepStarted', 'step 1/2: …')], undefined],
    [
      'carried out',
      [event('ActionHandled', `candidate a1b2c3d4e5 rolled back by action ${VALUE}`)],
      {
        refused: false,
        reason: 'ActionHandled',
        message: `candidate a1b2c3d4e5 rolled back by action ${VALUE}`,
      },
    ],
    ['refused', [refused], { refused: true, reason: 'ActionRefused', message: refused.message! }],
    [
      'an unreadable value, quoted as JSON',
      [event('ActionRefused', `annotation modelship.dev/action="${VALUE}": expected <verb>…`)],
      {
        refused: true,
        reason: 'ActionRefused',
        message: `annotation modelship.dev/action="${VALUE}": expected <verb>…`,
      },
    ],
    ['about another object', [event('ActionRefused', refused.message!, 'uid-2')], undefined],
    ['about a longer nonce', [event('ActionHandled', `rolled back by action ${VALUE}1`)], undefined],
    [
      'about the same nonce bound to a revision',
      [event('ActionHandled', `action abort:0123456789@2026-12-07T090000Z`)],
      undefined,
    ],
  ])('%s', (_, events, expected) => {
    expect(verdictOf(events, 'uid-1', VALUE)).toEqual(expected);
  });
});

describe('outcomeReport', () => {
  const what = 'abort ModelDeployment ml/digits';
  it.each<[string, Outcome, number, string]>([
    [
      'carried out',
      { verdict: { refused: false, reason: 'ActionHandled', message: 'candidate x rolled back by action a@1' } },
      0,
      `${what}: done: candidate x rolled back by action a@1`,
    ],
    [
      'refused',
      { verdict: { refused: true, reason: 'ActionRefused', message: 'action a@1 ignored: …' } },
      3,
      `${what}: refused by the operator (ActionRefused): action a@1 ignored: …`,
    ],
    [
      'superseded',
      { progress: { state: 'superseded', by: 'retry@2' } },
      1,
      `${what}: superseded before the operator acted: the annotation now asks for retry@2`,
    ],
    [
      'deleted',
      { progress: { state: 'deleted' } },
      1,
      `${what}: the ModelDeployment was deleted before the operator acted`,
    ],
    [
      'handled without an Event',
      { progress: { state: 'handled' } },
      1,
      `${what}: handled by the operator, but it recorded no verdict Event`,
    ],
    [
      'no verdict in time, nothing wrong seen',
      { timedOut: midCanary() },
      1,
      `${what}: no verdict from the operator within 60s; is the operator running?`,
    ],
    [
      'no verdict in time, Stalled',
      { timedOut: rolledBack() },
      1,
      `${what}: no verdict from the operator within 60s; Stalled: ManualAbort: candidate a1b2c3d4e5 rolled back by ` +
        'action abort@2026-12-07T085950Z; stable 5d4c3b2a10 serves 100%',
    ],
    [
      'no verdict in time, the watch failing',
      { timedOut: undefined, failure: new Error('watch …: 403 forbidden') },
      1,
      `${what}: no verdict from the operator within 60s; last failure: watch …: 403 forbidden`,
    ],
  ])('%s', (_, outcome, code, line) => {
    expect(outcomeReport(outcome, what, 60_000)).toEqual({ code, line });
  });
});
