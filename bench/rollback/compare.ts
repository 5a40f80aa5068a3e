/**
 * The kwok path and real pods side by side (pure): one table of the headline figures of two rollback
 * reports, for the top of rollback-real.md.
 */
import { distribution, type Distribution } from './settle.js';
import type { KindSummary, RollbackReport, TrialKind } from './trials.js';

const ms = (v: number): string => (Number.isNaN(v) ? '–' : `${Math.round(v)}`);
const spread = (d: Distribution): string => (d.n === 0 ? '–' : `${ms(d.p50)} / ${ms(d.p90)} / ${ms(d.max)}`);

/** A row of the table: its label and how to read its cell from one report. */
type Row = [label: string, cell: (r: RollbackReport) => string];

/** A cell from one kind's summary, '–' when the report has no trials of that kind. */
function ofKind(kind: TrialKind, cell: (s: KindSummary) => string): (r: RollbackReport) => string {
  return (r) => {
    const s = r.summary[kind];
    return s ? cell(s) : '–';
  };
}

function stageMedians(s: KindSummary): string {
  const { patchMs, operatorMs, routersMs, dataPathMs } = s.stages;
  return [patchMs, operatorMs, routersMs, dataPathMs].map((d) => ms(d.p50)).join(' / ');
}

function windows(r: RollbackReport): { requests: number; failed: number; stragglers: number } {
  const kinds = Object.values(r.summary);
  return {
    requests: kinds.reduce((sum, s) => sum + s.requests, 0),
    failed: kinds.reduce((sum, s) => sum + s.failed, 0),
    stragglers: kinds.reduce((sum, s) => sum + s.stragglers, 0),
  };
}

function trialLoad(r: RollbackReport): string {
  const d = distribution(r.trials.map((t) => t.loadAverage));
  return d.n === 0 ? '–' : `${d.p50.toFixed(2)} (${d.max.toFixed(2)})`;
}

function rearm(r: RollbackReport): string {
  const d = distribution(r.rearmMs);
  const paused = r.setup.loadPausedWhileRearming ?? true;
  return `${ms(d.p50)} / ${ms(d.max)} (load ${paused ? 'paused' : 'running'})`;
}

const ROWS: Row[] = [
  ['run', (r) => `${r.date.slice(0, 10)}, commit ${r.commit}, Node ${r.machine.node}`],
  [
    'trials: abort + rollback after promotion',
    (r) => `${r.summary.abort?.trials ?? 0} + ${r.summary['rollback-after-promotion']?.trials ?? 0}`,
  ],
  ['**abort: action → every new request on stable**, p50 / p90 / max ms', ofKind('abort', (s) => spread(s.latencyMs))],
  ['**rollback after promotion**, p50 / p90 / max ms', ofKind('rollback-after-promotion', (s) => spread(s.latencyMs))],
  [
    'abort: until every router applied too, p50 / p90 / max ms',
    ofKind('abort', (s) => spread(s.untilRoutersAndDataMs)),
  ],
  ['trials that never settled', (r) => `${Object.values(r.summary).reduce((sum, s) => sum + s.unsettled, 0)}`],
  ['**failed requests** in the rollback windows', (r) => `${windows(r).failed} of ${windows(r).requests}`],
  [
    'failed requests outside them (re-arm, promotion)',
    (r) => `${r.requests.failedOutsideTrials} (whole run: ${r.requests.failed} of ${r.requests.total})`,
  ],
  ['stragglers (old revision after the routes update was seen)', (r) => `${windows(r).stragglers}`],
  ['abort stage medians ms: patch / operator / routers / data path', ofKind('abort', stageMedians)],
  [
    'after-promotion stage medians ms: patch / operator / routers / data path',
    ofKind('rollback-after-promotion', stageMedians),
  ],
  ['router pods: last − first applied, p50 / p90 / max ms', ofKind('abort', (s) => spread(s.routerSkewMs))],
  ['loops: last − first switched (abort), p50 / p90 / max ms', ofKind('abort', (s) => spread(s.loopSpreadMs))],
  ['load average at the actions, median (max)', trialLoad],
  ['re-arm (`retry@` until every loop sees the candidate) median / max ms', rearm],
  [
    'promotion median / max ms',
    (r) => (r.promoteMs.length ? `${ms(distribution(r.promoteMs).p50)} / ${ms(distribution(r.promoteMs).max)}` : '–'),
  ],
];

/** The side-by-side section: kwok path (local processes) vs real pods, one row per figure. */
export function comparisonMarkdown(kwok: RollbackReport, real: RollbackReport): string[] {
  return [
    '## Side by side: kwok path vs real pods',
    '',
    'The same trials and the same measurement; the kwok path is the last `make bench-rollback` run (rollback.md): the',
    'operator as a local process, model servers and routers as local processes behind a loopback proxy. Real pods: the',
    "chart's operator pods, the kubelet's pods behind readiness probes, the load through the apex Service's ClusterIP (kube-proxy).",
    'Stages: action → patch answered → routes ConfigMap update seen on a watch (operator) → last router pod applied → every new request on the target.',
    'Chart of both runs: [rollback-real.png](rollback-real.png) (`make bench-rollback-chart`).',
    '',
    '| | kwok path | real pods |',
    '|---|---|---|',
    ...ROWS.map(([label, cell]) => `| ${label} | ${cell(kwok)} | ${cell(real)} |`),
    '',
  ];
}
