/**
 * `modelship status`: a ModelDeployment as lines a person reads at a glance, in the manner of
 * `kubectl argo rollouts get rollout`. Pure: the object and the clock in, lines out; the shell
 * (status.ts) reads the object and prints. Colour only marks what the words already say, so the
 * text without it reads the same.
 */
import type { AnalysisStatus, Condition, ModelDeployment } from '../api/types.js';
import { analysisLimitsOf } from '../rollout/analysis.js';
import { stepsOf } from '../rollout/canary.js';
import { MONITORING_DEFAULTS } from '../traffic/routes.js';

/** How many history entries the view shows (status keeps more). */
export const HISTORY_SHOWN = 5;

/** The ANSI colours the view uses. */
type Colour = 'green' | 'yellow' | 'red' | 'dim' | 'bold';

const ANSI: Record<Colour, string> = { green: '32', yellow: '33', red: '31', dim: '2', bold: '1' };

/** Rendering options. */
export interface RenderOptions {
  /** ANSI colours (a terminal); plain text otherwise. */
  colour: boolean;
}

/** The one-word health of a ModelDeployment, with its colour. */
export function healthOf(md: ModelDeployment): { word: string; colour: Colour } {
  const status = md.status;
  const condition = (type: string): Condition | undefined => status?.conditions?.find((c) => c.type === type);
  if (status?.observedGeneration !== md.metadata.generation && md.metadata.generation !== undefined) {
    return { word: 'Pending', colour: 'yellow' };
  }
  if (condition('Stalled')?.status === 'True') return { word: 'Degraded', colour: 'red' };
  if (status?.canary?.phase === 'Paused') return { word: 'Paused', colour: 'yellow' };
  if (condition('Reconciling')?.status === 'True') return { word: 'Progressing', colour: 'yellow' };
  if (condition('Ready')?.status === 'True') return { word: 'Healthy', colour: 'green' };
  return { word: 'Unavailable', colour: 'red' };
}

/** The lines of `modelship status` for one ModelDeployment at `now`. */
export function renderStatus(md: ModelDeployment, now: Date, options: RenderOptions): string[] {
  const paint = (text: string, colour: Colour): string =>
    options.colour ? `\x1b[${ANSI[colour]}m${text}\x1b[0m` : text;
  const status = md.status ?? {};
  const health = healthOf(md);
  const lines: string[] = [];
  const field = (label: string, value: string): void => void lines.push(`${`${label}:`.padEnd(13)}${value}`);

  field('Name', `${md.metadata.namespace}/${md.metadata.name}`);
  field('Status', paint(health.word, health.colour) + observedNote(md));
  if (status.url !== undefined) field('URL', status.url);
  field('Strategy', md.spec.rollout?.strategy ?? 'Canary');
  if (status.traffic?.length) {
    field('Traffic', status.traffic.map((t) => `${t.revision} ${t.percent}%`).join('  '));
  }

  const canary = status.canary;
  if (canary) {
    const steps = stepsOf(md.spec);
    lines.push('');
    lines.push(paint(`Canary ${canary.revision}`, 'bold'));
    field('  Phase', `${paint(canary.phase, phaseColour(canary.phase))} (${canary.reason ?? 'no reason yet'})`);
    field('  Step', stepLine(md, steps, now));
    field('  Weight', `${canary.weight}%${canary.mirrorPercent ? `, ${canary.mirrorPercent}% mirrored` : ''}`);
    if (canary.message) field('  Decision', canary.message);
    if (canary.analysis) lines.push(...analysisLines(md, canary.analysis, now, paint));
  }

  const stalled = status.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
  if (stalled) {
    lines.push('');
    lines.push(`${paint('Stalled', 'red')}: ${stalled.reason}: ${stalled.message}`);
  }
  if (status.lastAction !== undefined) field('Last action', status.lastAction);

  lines.push('', paint('Revisions', 'bold'));
  const weight = (rev: string): string => {
    const w = status.traffic?.find((t) => t.revision === rev);
    return w === undefined ? '-' : `${w.percent}%`;
  };
  const revisions: string[][] = [['REVISION', 'ROLE', 'WEIGHT', 'READY', 'SHA256', 'MODEL']];
  if (status.stable) {
    const s = status.stable;
    const ready = s.replicas === undefined ? `${s.readyReplicas}` : `${s.readyReplicas}/${s.replicas}`;
    revisions.push([s.revision, 'stable', weight(s.revision), ready, s.model.sha256.slice(0, 12), s.model.uri]);
  }
  if (canary) {
    revisions.push([
      canary.revision,
      'canary',
      weight(canary.revision),
      `${canary.readyReplicas}`,
      canary.model.sha256.slice(0, 12),
      canary.model.uri,
    ]);
  }
  for (const r of status.retained ?? []) {
    revisions.push([
      r.revision,
      'retained',
      weight(r.revision),
      '-',
      '-',
      `warm until ${r.until} (${left(r.until, now)})`,
    ]);
  }
  lines.push(...table(revisions).map((l) => `  ${l}`));
  lines.push(...monitoringLines(md, paint));

  if (status.conditions?.length) {
    lines.push('', paint('Conditions', 'bold'));
    const rows = status.conditions.map((c) => [c.type, c.status, c.reason, c.message]);
    lines.push(...table([['TYPE', 'STATUS', 'REASON', 'MESSAGE'], ...rows]).map((l) => `  ${l}`));
  }

  const history = (status.history ?? []).slice(-HISTORY_SHOWN).reverse();
  if (history.length) {
    lines.push('', paint(`History (newest first, ${history.length} of ${status.history!.length})`, 'bold'));
    const rows = history.map((h) => [
      h.at,
      h.revision,
      h.outcome,
      h.reason ?? '',
      h.model.sha256.slice(0, 12),
      h.model.uri,
    ]);
    lines.push(...table([['AT', 'REVISION', 'OUTCOME', 'REASON', 'SHA256', 'MODEL'], ...rows]).map((l) => `  ${l}`));
  }
  return lines;
}

/** ` (generation 3 not observed yet, operator at 2)` while the operator has not seen the spec. */
function observedNote(md: ModelDeployment): string {
  const generation = md.metadata.generation;
  const observed = md.status?.observedGeneration;
  if (generation === undefined || observed === generation) return '';
  return ` (generation ${generation} not observed yet${observed === undefined ? '' : `, operator at ${observed}`})`;
}

function phaseColour(phase: string): Colour {
  if (phase === 'RolledBack') return 'red';
  if (phase === 'Promoted') return 'green';
  return 'yellow';
}

/** `2/3: 50% for 60s, 42s left` (or the shadow phase, or before the first step). */
function stepLine(md: ModelDeployment, steps: { weight: number; pauseSeconds: number }[], now: Date): string {
  const canary = md.status!.canary!;
  const startedAt = canary.stepStartedAt;
  const remaining = (seconds: number): string => {
    if (startedAt === undefined) return '';
    const ms = Date.parse(startedAt) + seconds * 1000 - now.getTime();
    return ms > 0 ? `, ${duration(ms)} of the pause left` : ', pause over';
  };
  const held = canary.phase === 'RolledBack' || canary.phase === 'Promoted';
  if (canary.step < 0) {
    const shadow = md.spec.rollout?.shadowFirst;
    if (canary.phase === 'Shadow' && shadow) {
      return `shadow (${shadow.percent}% mirrored for ${shadow.seconds}s${remaining(shadow.seconds)}), then ${steps.length} step(s)`;
    }
    return `0/${steps.length} (before the first step)`;
  }
  const step = steps[Math.min(canary.step, steps.length - 1)]!;
  const pause = held ? '' : remaining(step.pauseSeconds);
  return `${canary.step + 1}/${steps.length}: ${step.weight}% for ${step.pauseSeconds}s${pause}`;
}

/** The last check's figures, each against its limit, and when the next check is due. */
function analysisLines(
  md: ModelDeployment,
  analysis: AnalysisStatus,
  now: Date,
  paint: (text: string, colour: Colour) => string,
): string[] {
  const limits = analysisLimitsOf(md.spec.rollout?.analysis);
  const lastCheckAt = md.status?.canary?.lastCheckAt;
  const when =
    lastCheckAt === undefined
      ? ''
      : `, ${duration(now.getTime() - Date.parse(lastCheckAt))} ago (every ${limits.intervalSeconds}s)`;
  const result = analysis.lastResult ?? 'no result';
  const resultColour: Colour = result === 'Passed' ? 'green' : result === 'Failed' ? 'red' : 'yellow';
  const lines = [
    `${'  Analysis:'.padEnd(13)}${paint(result, resultColour)}${when}; failed checks ${analysis.failures} of ${limits.failureLimit} allowed before rollback`,
  ];
  const verdict = (ok: boolean | undefined): string =>
    ok === undefined ? '' : ok ? paint('ok', 'green') : paint('BREAKS LIMIT', 'red');
  const rows: string[][] = [['METRIC', 'VALUE', 'LIMIT', '']];
  rows.push([
    'requests',
    `${analysis.requests}`,
    `>= ${limits.minRequests}`,
    analysis.requests >= limits.minRequests ? verdict(true) : paint('too few: inconclusive', 'yellow'),
  ]);
  rows.push([
    'error rate',
    analysis.errorRate === undefined ? '-' : pct(analysis.errorRate),
    `<= ${pct(limits.maxErrorRate)}`,
    verdict(analysis.errorRate === undefined ? undefined : analysis.errorRate <= limits.maxErrorRate),
  ]);
  const p99 = analysis.latencyP99Ms;
  const maxP99 = limits.maxLatencyP99Ms;
  rows.push([
    'p99 latency',
    p99 === undefined ? '-' : `${Number(p99.toFixed(1))} ms`,
    maxP99 === undefined ? 'not checked' : `<= ${maxP99} ms`,
    verdict(p99 === undefined || maxP99 === undefined ? undefined : p99 <= maxP99),
  ]);
  const agreement = analysis.agreement;
  const minAgreement = limits.minAgreement;
  rows.push([
    'agreement',
    agreement === undefined ? '-' : pct(agreement),
    minAgreement === undefined ? 'not checked' : `>= ${pct(minAgreement)}`,
    verdict(agreement === undefined || minAgreement === undefined ? undefined : agreement >= minAgreement),
  ]);
  const minAccuracy = limits.minAccuracy;
  if (minAccuracy !== undefined || analysis.accuracy !== undefined) {
    const labels = analysis.labels ?? 0;
    rows.push([
      'accuracy',
      analysis.accuracy === undefined ? '-' : `${pct(analysis.accuracy)} of ${labels} labels`,
      minAccuracy === undefined ? 'not checked' : `>= ${pct(minAccuracy)}, >= ${limits.minLabels} labels`,
      minAccuracy === undefined
        ? ''
        : labels < limits.minLabels
          ? paint('too few labels: inconclusive', 'yellow')
          : verdict((analysis.accuracy ?? 0) >= minAccuracy),
    ]);
  }
  lines.push(...table(rows).map((l) => `    ${l}`));
  if (analysis.message) lines.push(`    ${analysis.message}`);
  return lines;
}

/** What spec.monitoring sees of each revision: drift against the threshold, labels and accuracy. */
function monitoringLines(md: ModelDeployment, paint: (text: string, colour: Colour) => string): string[] {
  const figures = md.status?.monitoring ?? [];
  if (figures.length === 0) return [];
  const drift = md.spec.monitoring?.drift;
  const title = drift
    ? `Monitoring (drift: PSI above ${drift.threshold ?? MONITORING_DEFAULTS.threshold})`
    : 'Monitoring';
  const psi = (value: number | undefined): string => (value === undefined ? '-' : value.toFixed(3));
  const rows = figures.map((f) => [
    f.revision,
    f.inputPsi === undefined ? '-' : `${psi(f.inputPsi)}${f.feature ? ` ${f.feature}` : ''}`,
    psi(f.outputPsi),
    f.drifted === undefined ? '-' : f.drifted ? paint('DRIFTED', 'red') : 'no',
    f.labels === undefined ? '-' : String(f.labels),
    f.accuracy === undefined ? '-' : pct(f.accuracy),
  ]);
  return [
    '',
    paint(title, 'bold'),
    ...table([['REVISION', 'INPUT PSI', 'OUTPUT PSI', 'DRIFT', 'LABELS', 'ACCURACY'], ...rows]).map((l) => `  ${l}`),
  ];
}

/** A share as a percent with two decimals: 0.0125 → `1.25%`. */
function pct(share: number): string {
  return `${(share * 100).toFixed(2)}%`;
}

/** `1h02m`, `3m05s`, `42s`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function left(until: string, now: Date): string {
  const ms = Date.parse(until) - now.getTime();
  return ms > 0 ? `${duration(ms)} left` : 'expired';
}

/** ANSI colour sequences: built from the character code, as a regular expression literal may not hold ESC. */
const COLOUR_CODES = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** The text without its colour codes: what a reader without colour sees. */
export function stripColour(text: string): string {
  return text.replace(COLOUR_CODES, '');
}

/** Columns padded to their widest cell (measured without colour codes); the last column is not padded. */
function table(rows: string[][]): string[] {
  const width = (s: string): number => stripColour(s).length;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => width(r[i] ?? ''))));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - width(cell))))
      .join('  ')
      .trimEnd(),
  );
}
