/**
 * What became of an action the CLI wrote, read from what the operator leaves behind. Pure: the
 * shell (action.ts) reads the ModelDeployment and its Events and asks these functions.
 *
 * The operator handles an annotation value once: it records it in status.lastAction in the same
 * status write that applies it, then records one Event whose message quotes the value: reason
 * ActionHandled when it was carried out, ActionRefused when it was ignored or refused (the
 * Event is written right after the status, so the CLI may see the status first).
 */
import type { ModelDeployment } from '../api/types.js';
import { ACTION_ANNOTATION } from '../rollout/canary-action.js';
import { Reason } from '../status/reasons.js';

/** Where an action stands on the ModelDeployment. */
export type ActionProgress =
  | { state: 'pending' }
  /** status.lastAction equals the value: the operator acted on it; its Event says how. */
  | { state: 'handled' }
  /** The annotation now holds another value the operator has not recorded: someone asked for something else. */
  | { state: 'superseded'; by: string }
  | { state: 'deleted' };

/** Where the action `value` stands, from the ModelDeployment as last read (undefined: deleted). */
export function actionProgress(md: ModelDeployment | undefined, value: string): ActionProgress {
  if (md === undefined || md.metadata.deletionTimestamp !== undefined) return { state: 'deleted' };
  if (md.status?.lastAction === value) return { state: 'handled' };
  const current = md.metadata.annotations?.[ACTION_ANNOTATION]?.trim();
  if (current !== value) return { state: 'superseded', by: current ?? '(annotation removed)' };
  return { state: 'pending' };
}

/** An Event as the core v1 API returns it, as far as the verdict needs. */
export interface ActionEvent {
  reason?: string;
  message?: string;
  involvedObject?: { uid?: string };
  metadata?: { creationTimestamp?: string };
}

/** The operator's answer to one action. */
export interface ActionVerdict {
  refused: boolean;
  reason: string;
  message: string;
}

/**
 * The verdict on `value` among Events about the ModelDeployment with this uid: the one
 * ActionHandled or ActionRefused Event whose message quotes the value (a whole value: `abort@x`
 * is not `abort@x1`). Undefined while the operator has not recorded it.
 */
export function verdictOf(events: ActionEvent[], uid: string, value: string): ActionVerdict | undefined {
  const quoted = new RegExp(`(^|[^A-Za-z0-9:@._-])${escape(value)}($|[^A-Za-z0-9._-])`);
  for (const e of events) {
    if (e.involvedObject?.uid !== uid) continue;
    if (e.reason !== Reason.ActionHandled && e.reason !== Reason.ActionRefused) continue;
    if (!quoted.test(e.message ?? '')) continue;
    return { refused: e.reason === Reason.ActionRefused, reason: e.reason, message: e.message ?? '' };
  }
  return undefined;
}

/** What waiting for the verdict ended with. */
export type Outcome =
  | { verdict: ActionVerdict }
  | { progress: Exclude<ActionProgress, { state: 'pending' }> }
  /** The object as last seen, and the last failure to read it, if any. */
  | { timedOut: ModelDeployment | undefined; failure?: unknown };

/** Exit code of an action the operator refused or ignored. */
export const EXIT_REFUSED = 3;

/**
 * The exit code and the one line to print (on stdout for 0, else stderr) for an outcome; `what`
 * names the verb and the object (`abort ModelDeployment ml/digits`).
 */
export function outcomeReport(outcome: Outcome, what: string, timeoutMs: number): { code: number; line: string } {
  if ('verdict' in outcome) {
    const { refused, reason, message } = outcome.verdict;
    if (!refused) return { code: 0, line: `${what}: done: ${message}` };
    return { code: EXIT_REFUSED, line: `${what}: refused by the operator (${reason}): ${message}` };
  }
  if ('progress' in outcome) {
    const p = outcome.progress;
    const line =
      p.state === 'deleted'
        ? `${what}: the ModelDeployment was deleted before the operator acted`
        : p.state === 'superseded'
          ? `${what}: superseded before the operator acted: the annotation now asks for ${p.by}`
          : `${what}: handled by the operator, but it recorded no verdict Event`;
    return { code: 1, line };
  }
  const stalled = outcome.timedOut?.status?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
  const why =
    outcome.failure !== undefined
      ? `last failure: ${(outcome.failure as Error).message}`
      : stalled
        ? `Stalled: ${stalled.reason}: ${stalled.message}`
        : 'is the operator running?';
  return { code: 1, line: `${what}: no verdict from the operator within ${timeoutMs / 1000}s; ${why}` };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
