/**
 * The webhooks' shell: one JSON POST per webhook, its answer reduced to pass or fail. The operator's
 * only HTTP outside the cluster; what is due and what the answers mean is rollout/webhooks.ts's and
 * the canary state machine's.
 */
import type { WebhookSpec } from '../api/types.js';
import { DEFAULT_WEBHOOK_TIMEOUT_SECONDS, type WebhookPayload, type WebhookResult } from '../rollout/webhooks.js';

/** Calls one webhook; never throws: every way it can go wrong is a failed answer. */
export type WebhookCaller = (hook: WebhookSpec, payload: WebhookPayload) => Promise<WebhookResult>;

/**
 * POSTs the payload and waits at most the webhook's timeoutSeconds for the status line. A 2xx
 * passes; another status, the timeout and a connection error fail. The answer's message names the
 * status or the error, never the URL or the metadata (either may carry a token).
 */
export const callWebhook: WebhookCaller = async (hook, payload) => {
  const seconds = hook.timeoutSeconds ?? DEFAULT_WEBHOOK_TIMEOUT_SECONDS;
  try {
    const res = await fetch(hook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(seconds * 1000),
      redirect: 'manual',
    });
    // The body is never read: only the status decides. Cancelling it frees the connection.
    await res.body?.cancel().catch(() => undefined);
    const passed = res.status >= 200 && res.status < 300;
    return { name: hook.name, passed, message: `HTTP ${res.status}` };
  } catch (err) {
    return { name: hook.name, passed: false, message: failureOf(err as Error, seconds) };
  }
};

/** Why a request got no answer, in a few words: the timeout, or the network error under fetch's "fetch failed". */
export function failureOf(err: Error, seconds: number): string {
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${seconds}s`;
  const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}
