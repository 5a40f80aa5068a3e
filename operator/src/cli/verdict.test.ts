import type { ModelDeployment } from '../api/types.js';
import { midCanary } from './fixtures.js';
import { actionProgress, verdictOf, type ActionEvent } from './verdict.js';

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
