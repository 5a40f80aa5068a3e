/**
 * One-shot rollout actions (promote, abort, rollback, retry), requested GitOps-style through the
 * annotation `modelship.dev/action: <verb>[:<revision>]@<nonce>` on the ModelDeployment.
 *
 * Idempotent: the operator records the whole value it acted on in status (proposed field
 * status.lastAction) and acts on a value only while it differs from that record. So the annotation
 * can stay in git forever without re-triggering, a re-apply of the same manifest is a no-op, and a
 * new nonce (a date, a commit, a counter) asks again. The optional `:<revision>` binds the action to
 * one candidate: a stale `promote:<old>` never promotes a newer candidate.
 */

/** The annotation that carries an action. */
export const ACTION_ANNOTATION = 'modelship.dev/action';

/** What an action asks for. */
export type ActionVerb = 'promote' | 'abort' | 'rollback' | 'retry';

/** A parsed action request. */
export interface RolloutAction {
  verb: ActionVerb;
  /** The revision the action is bound to, when given. */
  revision?: string;
  nonce: string;
  /** The annotation value exactly as written; what status records once handled. */
  raw: string;
}

const ACTION_PATTERN = /^(promote|abort|rollback|retry)(?::([0-9a-f]{10}))?@([A-Za-z0-9][A-Za-z0-9._-]{0,62})$/;

/** Parses an annotation value, or says what is wrong with it. */
export function parseAction(raw: string): { action: RolloutAction } | { error: string } {
  const m = ACTION_PATTERN.exec(raw.trim());
  if (!m) {
    return {
      error: `annotation ${ACTION_ANNOTATION}=${JSON.stringify(raw)}: expected <verb>[:<revision>]@<nonce> with verb promote, abort, rollback or retry and a nonce of 1-63 letters, digits, '.', '_' or '-'`,
    };
  }
  const action: RolloutAction = { verb: m[1] as ActionVerb, nonce: m[3]!, raw: raw.trim() };
  if (m[2] !== undefined) action.revision = m[2];
  return { action };
}

/**
 * The action still to handle: none when the annotation is absent or equals the value already
 * handled (status.lastAction); an error for a malformed value that has not been reported yet.
 */
export function pendingAction(
  annotations: Record<string, string> | undefined,
  lastAction: string | undefined,
): { action: RolloutAction } | { error: string } | undefined {
  const raw = annotations?.[ACTION_ANNOTATION];
  if (raw === undefined || raw.trim() === '' || raw.trim() === lastAction) return undefined;
  return parseAction(raw);
}

/** The annotation value the CLI writes for `npx modelship <verb> <md>`: the nonce is the time. */
export function actionValue(verb: ActionVerb, now: Date, revision?: string): string {
  const nonce = now
    .toISOString()
    .replace(/[:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${verb}${revision ? `:${revision}` : ''}@${nonce}`;
}
