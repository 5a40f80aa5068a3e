/**
 * status.summary: where a ModelDeployment stands in a few words, for the kubectl get columns.
 * Printer columns take one JSONPath each and JSONPath cannot choose (status.canary.revision would
 * still name a rolled-back candidate beside READY True), so the choice is made here, from the
 * status already computed: the conditions and status.canary.
 */
import type { ModelDeploymentStatus, StatusSummary } from '../api/types.js';
import { ConditionType, findCondition } from './conditions.js';

/**
 * The summary of a status:
 * - phase: the canary's phase while status.canary exists (RolledBack after a rollback), else Stalled,
 *   Reconciling or Stable as the conditions say;
 * - reason: the Stalled reason when Stalled is True (what blocks wins: a rollback's cause, a
 *   deadline, a problem, an invalid spec), else the canary's, else Reconciling's or Ready's while
 *   either is not settled; unset when all is well;
 * - canary and weight: only while the candidate is live, not once it is rolled back.
 */
export function summaryOf(status: ModelDeploymentStatus): StatusSummary {
  const stalled = findCondition(status.conditions, ConditionType.Stalled);
  const reconciling = findCondition(status.conditions, ConditionType.Reconciling);
  const ready = findCondition(status.conditions, ConditionType.Ready);
  const canary = status.canary;
  const summary: StatusSummary = {
    phase: canary
      ? canary.phase
      : stalled?.status === 'True'
        ? 'Stalled'
        : reconciling?.status === 'True'
          ? 'Reconciling'
          : 'Stable',
  };
  const reason =
    stalled?.status === 'True'
      ? stalled.reason
      : (canary?.reason ??
        (reconciling?.status === 'True' ? reconciling.reason : ready?.status !== 'True' ? ready?.reason : undefined));
  if (reason) summary.reason = reason;
  if (canary && canary.phase !== 'RolledBack') {
    summary.canary = canary.revision;
    summary.weight = canary.weight;
  }
  return summary;
}
