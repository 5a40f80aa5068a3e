/**
 * kstatus-style conditions (Ready, Reconciling, Stalled). A condition keeps its
 * lastTransitionTime while its status does not change, so a steady state writes nothing.
 */
import type { Condition } from '../api/types.js';

/** A condition before its transition time is settled. */
export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'>;

/** The condition types we own, in the order they are written. */
export const CONDITION_TYPES = ['Ready', 'Reconciling', 'Stalled'] as const;

/**
 * The condition to write: `next`, with the previous lastTransitionTime when the status is the
 * same as before, else `now`.
 */
export function withTransitionTime(previous: Condition[] | undefined, next: ConditionUpdate, now: Date): Condition {
  const before = previous?.find((c) => c.type === next.type);
  const lastTransitionTime =
    before && before.status === next.status && before.lastTransitionTime
      ? before.lastTransitionTime
      : now.toISOString();
  return { ...next, lastTransitionTime };
}

/** The condition of this type, if present. */
export function findCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
