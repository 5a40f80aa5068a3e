/** Tests for report.ts: per-scenario medians and coldstart.md (node:test). */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { markdown, summarize, totalMs, type ColdStartReport, type Round } from './report.js';

function round(index: number, answeredAfter: number | undefined, extra: Partial<Round> = {}): Round {
  return {
    scenario: 'request',
    index,
    marks: {
      trigger: 1000,
      scaled: 1100,
      modelReady: 1100 + 10 * index,
      ...(answeredAfter === undefined ? {} : { answered: 1000 + answeredAfter }),
    },
    tries: 1,
    failedTries: 0,
    answered: answeredAfter !== undefined,
    ...extra,
  };
}

test('total is trigger to first answer, none without an answer', () => {
  assert.equal(totalMs(round(1, 1800)), 1800);
  assert.equal(totalMs(round(1, undefined)), undefined);
});

test('a scenario summary: median total, each round, held and the median of each part', () => {
  const [s] = summarize([round(1, 1800, { held: 1 }), round(2, 2200, { held: 3 }), round(3, undefined, { held: 2 })]);
  assert.equal(s!.scenario, 'request');
  assert.equal(s!.rounds, 3);
  assert.equal(s!.answered, 2);
  assert.equal(s!.totalMs, 2000);
  assert.deepEqual(s!.eachMs, [1800, 2200, null]);
  assert.equal(s!.held, 2);
  assert.deepEqual(
    s!.parts.map((p) => [p.mark, p.ms, p.seen]),
    [
      ['scaled', 100, 3],
      ['modelReady', 20, 3],
      // From modelReady (1110, 1120) to the answers (2800, 3200).
      ['answered', 1885, 2],
    ],
  );
});

test('coldstart.md names the scenario, the total and every part', () => {
  const rounds = [round(1, 1800, { held: 1 }), round(2, 2200, { held: 1 })];
  const report: ColdStartReport = {
    when: '2026-12-07T15:00:00.000Z',
    commit: 'abc1234',
    cpus: 2,
    memGiB: 24,
    loadStart: [1, 2, 3],
    loadEnd: [1, 2, 3],
    rounds,
    summary: summarize(rounds),
  };
  const md = markdown(report);
  assert.match(md, /## request: requests to a revision at zero/);
  assert.match(md, /First correct answer \*\*2\.00 s\*\* after the trigger \(median of 2; each: 1\.80, 2\.20 s\)/);
  assert.match(
    md,
    /1 requests sent at once per round \(median\), requests held per round \(median\) 1, failed 0 in all/,
  );
  assert.match(md, /The server could answer \(model loaded, warm-up run\) at \*\*0\.12 s\*\* \(median\)/);
  assert.match(md, /\| scale decision \(operator\) \(`scaled`\) \| 0\.10 \| 2 \|/);
  assert.match(md, /\| router\/client: request to answer \(`answered`\) \| 1\.89 \| 2 \|/);
});
