/**
 * Webhook checks (spec.rollout.analysis.webhooks), the pure half: which webhooks a type names, what
 * the operator sends them, and what their answers come to. The shell (operator/src/webhooks/) makes
 * the HTTP calls the canary decision asks for; the state machine decides again with the answers.
 *
 * Like Flagger's webhooks: an answer passes only when it is a 2xx. Another status, no answer in time
 * and a connection error all fail: nothing unanswered ever counts as a pass.
 */
import type { ModelDeploymentSpec, WebhookSpec, WebhookType } from '../api/types.js';

/** The CRD's default spec.rollout.analysis.webhooks[].timeoutSeconds. */
export const DEFAULT_WEBHOOK_TIMEOUT_SECONDS = 10;

/** What one webhook answered. */
export interface WebhookResult {
  name: string;
  passed: boolean;
  /** The answer in a few words: "HTTP 200", "HTTP 500", "no answer within 10s", "connect ECONNREFUSED …". */
  message: string;
}

/** Answers to the webhooks of the types called this reconcile (each type's webhooks all called). */
export type WebhookResults = Partial<Record<WebhookType, WebhookResult[]>>;

/** The JSON body the operator POSTs to a webhook. */
export interface WebhookPayload {
  name: string;
  namespace: string;
  type: WebhookType;
  /** The candidate revision (for Rollback: the one rolled back). */
  revision: string;
  /** The revision serving as stable. */
  stable: string;
  /** The candidate's live weight, percent. */
  weight: number;
  /** The current step, 1-based; 0 before the first step. */
  step: number;
  /** The webhook's own metadata, as written in the spec. */
  metadata: Record<string, string>;
}

/** The webhooks of one type, in spec order. */
export function webhooksOf(spec: ModelDeploymentSpec, type: WebhookType): WebhookSpec[] {
  return (spec.rollout?.analysis?.webhooks ?? []).filter((w) => w.type === type);
}

/** What a webhook is sent about a rollout. */
export function webhookPayload(
  hook: WebhookSpec,
  md: { name: string; namespace: string },
  at: { revision: string; stable: string; weight: number; step: number },
): WebhookPayload {
  return {
    name: md.name,
    namespace: md.namespace,
    type: hook.type,
    revision: at.revision,
    stable: at.stable,
    weight: at.weight,
    step: Math.max(0, at.step + 1),
    metadata: hook.metadata ?? {},
  };
}

/** The answers that failed, or [] when every webhook passed. */
export function failedWebhooks(results: WebhookResult[]): WebhookResult[] {
  return results.filter((r) => !r.passed);
}

/** One line naming each failed webhook and its answer: `webhook smoke failed (HTTP 500)`. */
export function webhookFailureMessage(type: WebhookType, failed: WebhookResult[]): string {
  return failed.map((r) => `${type} webhook ${r.name} failed (${r.message})`).join('; ');
}
