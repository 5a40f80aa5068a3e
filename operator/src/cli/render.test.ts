import type { ModelDeployment } from '../api/types.js';
import { midCanary, NOW, rolledBack, settled } from './fixtures.js';
import { duration, healthOf, HISTORY_SHOWN, renderStatus, stripColour } from './render.js';

const plain = (md: ModelDeployment, now = NOW): string[] => renderStatus(md, now, { colour: false });

function edit(md: ModelDeployment, change: (md: ModelDeployment) => void): ModelDeployment {
  change(md);
  return md;
}

describe('renderStatus', () => {
  it('shows a canary mid-step: its step and pause left, the weights, the figures against their limits', () => {
    const text = plain(midCanary()).join('\n');
    expect(text).toContain(
      [
        'Canary a1b2c3d4e5',
        '  Phase:     Progressing (StepInProgress)',
        '  Step:      1/2: 10% for 30s, 18s of the pause left',
        '  Weight:    10%',
        '  Decision:  step 1/2 (10%): 18s of the pause left',
        '  Analysis:  Inconclusive, 2s ago (every 10s); failed checks 0 of 2 allowed before rollback',
        '    METRIC       VALUE   LIMIT',
        '    requests     12      >= 50        too few: inconclusive',
        '    error rate   0.00%   <= 1.00%     ok',
        '    p99 latency  8.5 ms  <= 250 ms    ok',
        '    agreement    -       not checked',
        '    inconclusive: 12 requests < 50 minimum',
      ].join('\n'),
    );
    expect(text).toContain('Traffic:     5d4c3b2a10 90%  a1b2c3d4e5 10%');
    expect(text).toContain(
      [
        '  REVISION    ROLE    WEIGHT  READY  SHA256        MODEL',
        '  5d4c3b2a10  stable  90%     2/2    6b6a5e14b072  file:///models/a.onnx',
        '  a1b2c3d4e5  canary  10%     1      0f1e2d3c4b5a  file:///models/b.onnx',
      ].join('\n'),
    );
  });

  it.each<[string, ModelDeployment, Date, string[]]>([
    [
      'settled',
      settled(),
      NOW,
      ['Status:      Healthy', '  5d4c3b2a10  stable  100%    2/2    6b6a5e14b072  file:///models/a.onnx'],
    ],
    [
      'rolled back: the limits it broke, and Stalled with why',
      rolledBack(),
      NOW,
      [
        'Status:      Degraded',
        '  Phase:     RolledBack (ManualAbort)',
        '  Step:      1/2: 10% for 30s',
        '    error rate   2.50%   <= 1.00%     BREAKS LIMIT',
        '    p99 latency  300 ms  <= 250 ms    BREAKS LIMIT',
        'Stalled: ManualAbort: candidate a1b2c3d4e5 rolled back by action abort@2026-12-07T085950Z; stable 5d4c3b2a10 serves 100%',
        'Last action: abort@2026-12-07T085950Z',
        '  2026-12-07T08:59:50Z  a1b2c3d4e5  RolledBack  ManualAbort      0f1e2d3c4b5a  file:///models/b.onnx',
      ],
    ],
    ['the pause is over', midCanary(), new Date('2026-12-07T09:01:00Z'), ['  Step:      1/2: 10% for 30s, pause over']],
    [
      'the spec not observed yet',
      edit(midCanary(), (md) => (md.metadata.generation = 3)),
      NOW,
      ['Status:      Pending (generation 3 not observed yet, operator at 2)'],
    ],
    [
      'paused by the spec',
      edit(midCanary(), (md) => (md.status!.canary!.phase = 'Paused')),
      NOW,
      ['Status:      Paused', '  Phase:     Paused (StepInProgress)'],
    ],
    [
      'shadowing before the steps',
      edit(midCanary(), (md) => {
        md.spec.rollout!.shadowFirst = { percent: 20, seconds: 60 };
        Object.assign(md.status!.canary!, { phase: 'Shadow', step: -1, weight: 0, mirrorPercent: 20 });
      }),
      NOW,
      [
        '  Step:      shadow (20% mirrored for 60s, 48s of the pause left), then 2 step(s)',
        '  Weight:    0%, 20% mirrored',
      ],
    ],
    [
      'pending before the first step, with the spec own steps',
      edit(midCanary(), (md) => {
        md.spec.rollout!.steps = [{ weight: 5 }, { weight: 25 }, { weight: 50, pauseSeconds: 120 }];
        Object.assign(md.status!.canary!, { phase: 'Pending', step: -1, weight: 0 });
      }),
      NOW,
      ['  Step:      0/3 (before the first step)'],
    ],
    [
      'agreement against its limit',
      edit(midCanary(), (md) => {
        md.spec.rollout!.analysis!.minAgreement = 0.98;
        md.status!.canary!.analysis!.agreement = 0.9512;
      }),
      NOW,
      ['    agreement    95.12%  >= 98.00%  BREAKS LIMIT'],
    ],
    [
      'accuracy against its limit, once enough labels came',
      edit(midCanary(), (md) => {
        Object.assign(md.spec.rollout!.analysis!, { minAccuracy: 0.9, minLabels: 20 });
        Object.assign(md.status!.canary!.analysis!, { accuracy: 0.125, labels: 24 });
      }),
      NOW,
      ['    accuracy     12.50% of 24 labels  >= 90.00%, >= 20 labels  BREAKS LIMIT'],
    ],
    [
      'accuracy with too few labels to judge',
      edit(midCanary(), (md) => {
        md.spec.rollout!.analysis!.minAccuracy = 0.9;
        Object.assign(md.status!.canary!.analysis!, { accuracy: 1, labels: 3 });
      }),
      NOW,
      ['    accuracy     100.00% of 3 labels  >= 90.00%, >= 50 labels  too few labels: inconclusive'],
    ],
    [
      "each revision's drift and accuracy under spec.monitoring",
      edit(midCanary(), (md) => {
        md.spec.monitoring = { drift: { threshold: 0.25 }, accuracy: {} };
        md.status!.monitoring = [
          {
            revision: '5d4c3b2a10',
            inputPsi: 0.4123,
            feature: 'input[56]',
            outputPsi: 0.05,
            drifted: true,
            labels: 300,
            accuracy: 0.97,
          },
          { revision: 'a1b2c3d4e5' },
        ];
      }),
      NOW,
      [
        'Monitoring (drift: PSI above 0.25)',
        '  REVISION    INPUT PSI        OUTPUT PSI  DRIFT    LABELS  ACCURACY',
        '  5d4c3b2a10  0.412 input[56]  0.050       DRIFTED  300     97.00%',
        '  a1b2c3d4e5  -                -           -        -       -',
      ],
    ],
    [
      'a retained revision and how long it stays warm',
      edit(settled(), (md) => (md.status!.retained = [{ revision: 'ffeeddccbb', until: '2026-12-07T09:04:00Z' }])),
      NOW,
      ['  ffeeddccbb  retained  -       -      -             warm until 2026-12-07T09:04:00Z (4m00s left)'],
    ],
  ])('%s', (_, md, now, expected) => {
    const lines = plain(md, now);
    for (const line of expected) expect(lines).toContain(line);
  });

  it(`shows the ${HISTORY_SHOWN} newest history entries, newest first`, () => {
    const md = settled();
    md.status!.history = Array.from({ length: 8 }, (_, i) => ({
      revision: `00000000${i}0`,
      model: { uri: `file:///models/${i}.onnx`, sha256: 'a'.repeat(64) },
      outcome: 'Promoted' as const,
      at: `2026-12-07T08:0${i}:00Z`,
    }));
    const lines = plain(md);
    const start = lines.indexOf(`History (newest first, ${HISTORY_SHOWN} of 8)`);
    expect(lines.slice(start + 2).map((l) => l.trim().split(/\s+/)[1])).toEqual([
      '0000000070',
      '0000000060',
      '0000000050',
      '0000000040',
      '0000000030',
    ]);
  });

  it.each([settled(), midCanary(), rolledBack()])('reads the same without colour: colour only marks', (md) => {
    const coloured = renderStatus(md, NOW, { colour: true });
    expect(coloured.join('\n')).toContain(`${String.fromCharCode(27)}[`);
    expect(coloured.map(stripColour)).toEqual(plain(md));
  });
});

describe('healthOf', () => {
  it.each<[string, ModelDeployment, string]>([
    ['Ready and settled', settled(), 'Healthy'],
    ['a canary in a step', midCanary(), 'Progressing'],
    ['rolled back', rolledBack(), 'Degraded'],
    ['no status yet', edit(settled(), (md) => delete md.status), 'Pending'],
    [
      'not Ready, not progressing',
      edit(settled(), (md) => (md.status!.conditions![0]!.status = 'False')),
      'Unavailable',
    ],
  ])('%s: %s', (_, md, word) => {
    expect(healthOf(md).word).toBe(word);
  });
});

describe('duration', () => {
  it.each([
    [0, '0s'],
    [-5000, '0s'],
    [42_400, '42s'],
    [185_000, '3m05s'],
    [3_720_000, '1h02m'],
  ])('%d ms', (ms, text) => {
    expect(duration(ms)).toBe(text);
  });
});
