/**
 * kstatus-style conditions (Ready, Reconciling, Stalled) and DataDrift. A condition keeps its
 * lastTransitionTime while its status does not change, so a steady state writes nothing.
 */
import type { Condition } from '../api/types.js';
import type { Reason } from './reasons.js';

/** The condition types the operator owns (the order computeStatus writes them in). */
export const ConditionType = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
  /** While spec.monitoring.drift is set: whether the stable revision's live data drifted from its reference. */
  DataDrift: 'DataDrift',
} as const;

/** One of {@link ConditionType}. */
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** A condition before its transition time is settled, with one of our types and reasons. */
export type ConditionUpdate = Omit<Condition, 'lastTransitionTime' | 'type' | 'reason'> & {
  type: ConditionType;
  reason: Reason;
};

/**
 * The condition to write: `next`, with the previous lastTransitionTime when the status is the
 * same as before, else `now`.
 */
export function withTransitionTime(previous: Condition[] | undefined, next: ConditionUpdate, now: Date): Condition {
  const before = findCondition(previous, next.type);
  const lastTransitionTime =
    before && before.status === next.status && before.lastTransitionTime
      ? before.lastTransitionTime
      : now.toISOString();
  return { ...next, lastTransitionTime };
}

/** The condition of this type, if present. */
export function findCondition(conditions: Condition[] | undefined, type: ConditionType): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
