/**
 * What the routers observed of each routed revision (status.monitoring) and the DataDrift
 * condition, from the router pods' stats documents (contract/stats.ts `revisions.<rev>.drift` and
 * `.accuracy`). Pure: documents in, status out; the Events of a DataDrift change come from the
 * status before and after, as the other conditions' do.
 */
import type { Condition, ModelDeployment, ModelDeploymentStatus, RevisionMonitoringStatus } from '../api/types.js';
import type { RouterStatsDocument } from '../../../contract/stats.js';
import { routeNameOf } from '../traffic/names.js';
import { MONITORING_DEFAULTS } from '../traffic/routes.js';
import { ConditionType, findCondition, type ConditionUpdate } from './conditions.js';
import { Because, Reason, type Reasoned } from './reasons.js';

/**
 * How often status.monitoring and DataDrift are brought up to date while spec.monitoring asks for
 * drift or accuracy. The routers' stats ConfigMap changes every few seconds and wakes no reconcile
 * (kube/caches.ts QUIET_COMPONENTS), so a steady ModelDeployment would otherwise show the figures
 * of its last rollout: a drift appearing weeks later must still reach the condition.
 */
export const MONITORING_REFRESH_SECONDS = 15;

/** The requeue that keeps status.monitoring fresh, or undefined when nothing is monitored. */
export function monitoringRefreshSeconds(md: ModelDeployment): number | undefined {
  const spec = md.spec.monitoring;
  return spec?.drift !== undefined || spec?.accuracy !== undefined ? MONITORING_REFRESH_SECONDS : undefined;
}

/** Decimals kept of a PSI or an accuracy: finer moves would rewrite status at every stats interval. */
const DECIMALS = 3;

function round(x: number): number {
  const f = 10 ** DECIMALS;
  return Math.round(x * f) / f;
}

/**
 * status.monitoring: per routed revision (stable first), the largest input and output PSI among
 * the router pods (with the input's feature) and whether either is above the threshold, and the
 * labels joined over all router pods with the share predicted right. Undefined while
 * spec.monitoring has neither drift nor accuracy. A revision no router pod reports yet is listed
 * by name only.
 */
export function monitoringStatusOf(
  md: ModelDeployment,
  documents: RouterStatsDocument[],
  revisions: string[],
): RevisionMonitoringStatus[] | undefined {
  const spec = md.spec.monitoring;
  if (spec?.drift === undefined && spec?.accuracy === undefined) return undefined;
  const threshold = spec.drift?.threshold ?? MONITORING_DEFAULTS.threshold;
  return revisions.map((revision) => {
    const stats = documents.map((d) => d.revisions[routeNameOf(md, revision)]).filter((s) => s !== undefined);
    const entry: RevisionMonitoringStatus = { revision };
    if (spec.drift !== undefined) {
      let input: { psi: number; feature?: string } | undefined;
      let output: number | undefined;
      for (const d of stats.map((s) => s.drift)) {
        if (d?.inputPsi != null && (input === undefined || d.inputPsi > input.psi))
          input = { psi: d.inputPsi, ...(d.feature !== undefined ? { feature: d.feature } : {}) };
        if (d?.outputPsi != null && (output === undefined || d.outputPsi > output)) output = d.outputPsi;
      }
      if (input !== undefined) {
        entry.inputPsi = round(input.psi);
        if (input.feature !== undefined) entry.feature = input.feature;
      }
      if (output !== undefined) entry.outputPsi = round(output);
      if (input !== undefined || output !== undefined)
        entry.drifted = (input?.psi ?? 0) > threshold || (output ?? 0) > threshold;
    }
    if (spec.accuracy !== undefined) {
      const counts = stats.map((s) => s.accuracy).filter((a) => a !== undefined);
      if (counts.length > 0) {
        const labelled = counts.reduce((n, a) => n + a.labelled, 0);
        const correct = counts.reduce((n, a) => n + a.correct, 0);
        entry.labels = labelled;
        if (labelled > 0) entry.accuracy = round(correct / labelled);
      }
    }
    return entry;
  });
}

/**
 * The DataDrift condition while spec.monitoring.drift is set (else undefined: no condition). True
 * with reason DriftDetected when the stable revision's input or output PSI is above the threshold,
 * naming the revision, the feature and the PSI; False with NoDrift otherwise, also while its live
 * window is not full (no PSI yet), except that a True condition of the same stable revision stays
 * True while there are no figures (`previous`: the conditions in status), so a router restart does
 * not announce a resolution.
 */
export function dataDriftCondition(
  md: ModelDeployment,
  monitoring: RevisionMonitoringStatus[] | undefined,
  stable: string,
  previous?: Condition[],
): ConditionUpdate | undefined {
  const drift = md.spec.monitoring?.drift;
  if (drift === undefined) return undefined;
  const threshold = drift.threshold ?? MONITORING_DEFAULTS.threshold;
  const m = monitoring?.find((e) => e.revision === stable);
  if (m?.drifted === true)
    return { type: ConditionType.DataDrift, status: 'True', ...Because.driftDetected(m, threshold) };
  // No figures (a router pod restarted, its window refills): not evidence that the drift is over.
  const before = findCondition(previous, ConditionType.DataDrift);
  if (m?.drifted === undefined && before?.status === 'True' && revisionIn(before) === stable)
    return { type: ConditionType.DataDrift, status: 'True', reason: Reason.DriftDetected, message: before.message };
  return { type: ConditionType.DataDrift, status: 'False', ...Because.noDrift(stable, m, threshold) };
}

/**
 * One Event per DataDrift transition: DriftDetected (Warning) when it turns True or names another
 * revision, DriftResolved (Normal) when it turns from True to False. Turning drift detection off
 * (the condition disappears) is no resolution and says nothing.
 */
export function driftEvents(
  before: ModelDeploymentStatus | undefined,
  after: ModelDeploymentStatus,
): { type: 'Normal' | 'Warning'; why: Reasoned }[] {
  const was = findCondition(before?.conditions, ConditionType.DataDrift);
  const now = findCondition(after.conditions, ConditionType.DataDrift);
  if (now === undefined) return [];
  const detected = (c: Condition | undefined) => c?.status === 'True';
  if (detected(now) && (!detected(was) || revisionIn(was!) !== revisionIn(now)))
    return [{ type: 'Warning', why: { reason: Reason.DriftDetected, message: now.message } }];
  if (!detected(now) && detected(was)) return [{ type: 'Normal', why: Because.driftResolved(now.message) }];
  return [];
}

/** The revision a DataDrift message names first ("revision <hash>: ..."). */
function revisionIn(c: Condition): string | undefined {
  return /^revision (\S+?):/.exec(c.message)?.[1];
}
