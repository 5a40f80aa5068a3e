/**
 * Whether a live request whose backend connection could not be opened is sent again, and after how
 * long. Pure: the proxy (proxy.ts) feeds it each failed attempt and acts on the decision.
 *
 * A connect failure means no byte of the request reached the backend, so resending is safe whatever
 * the method (Envoy's `retry_on: connect-failure`, Knative's activator and Linkerd do the same).
 * It happens when a revision's Service briefly has no ready endpoint: pods that just turned ready
 * before kube-proxy programmed the ClusterIP (its sync lags the EndpointSlice by up to a second),
 * all pods restarting, a scale-up from a cold revision.
 *
 * Not retried: errors on a socket the request was written to (`UND_ERR_SOCKET` "other side
 * closed", `ECONNRESET`, `EPIPE`). undici 7 itself resends a request it had not yet written when a
 * pooled keep-alive socket turns out closed (the request stays pending and gets a new connection;
 * it also yields a tick before reusing an idle socket so a pending FIN/RST is seen first), and the
 * router closes idle sockets before the server does (table.ts), so what reaches the proxy as such an
 * error may have been read, and run, by the backend: a pod that crashed mid-inference looks exactly
 * the same, and resending would double the work or take a second pod down with a query of death.
 */

/** Error codes of a backend connection that never opened (Node's net and dns, undici's connector). */
export const CONNECT_FAILURE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', // nothing listens, or kube-proxy rejects a ClusterIP with no endpoint
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT', // undici's ConnectTimeoutError: no SYN-ACK within its connect timeout
  'EAI_AGAIN', // the revision Service's DNS name did not resolve (yet): no connection was tried
  'ENOTFOUND',
]);

/** The first wait before a resend; each further wait doubles, up to {@link MAX_DELAY_MS}. */
export const FIRST_DELAY_MS = 25;
/** The longest single wait, so a backend that comes back is found within this of doing so. */
export const MAX_DELAY_MS = 250;

/** How long connect failures are retried for, and the waits in between. */
export interface ConnectRetryPolicy {
  /** Time from the first dispatch after which no attempt starts; 0 turns retries off. */
  budgetMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

/**
 * The policy for a connect-retry budget, capped at the request timeout so the caller's deadline
 * is never passed waiting for a connection (and the last attempt starts before the 504 timer).
 */
export function connectRetryPolicy(budgetMs: number, timeoutMs: number): ConnectRetryPolicy {
  return { budgetMs: Math.min(budgetMs, timeoutMs), firstDelayMs: FIRST_DELAY_MS, maxDelayMs: MAX_DELAY_MS };
}

/** One backend attempt that ended in an error before any response. */
export interface FailedAttempt {
  /** The error's `code` (Node's `ECONNREFUSED`..., undici's `UND_ERR_*`), if it has one. */
  code: unknown;
  /** Whether undici began writing this attempt to a socket (the handler's onRequestStart ran). */
  started: boolean;
  /** Whether the body can be sent again: none, or buffered whole (streamed bodies are consumed). */
  replayable: boolean;
  /** Attempts made so far, this one included (1 after the first). */
  attempts: number;
  /** Milliseconds since the first attempt was dispatched. */
  elapsedMs: number;
}

/**
 * What to do after a failed attempt: resend after `delayMs`, or give up. `connectFailure` says
 * whether the request never reached the backend (for the caller's error message).
 */
export type RetryDecision = { retry: true; delayMs: number } | { retry: false; connectFailure: boolean };

/** The wait before attempt `attempts + 1`: firstDelayMs doubling, capped at maxDelayMs. */
export function backoffMs(attempts: number, policy: ConnectRetryPolicy): number {
  return Math.min(policy.firstDelayMs * 2 ** Math.max(0, attempts - 1), policy.maxDelayMs);
}

/**
 * Decides on a failed attempt. A resend needs a connect failure of an attempt undici never started
 * writing (both: a code alone could in principle come from an established socket), a replayable
 * body, and the next attempt starting before the budget ends.
 */
export function decideConnectRetry(attempt: FailedAttempt, policy: ConnectRetryPolicy): RetryDecision {
  const connectFailure =
    !attempt.started && typeof attempt.code === 'string' && CONNECT_FAILURE_CODES.has(attempt.code);
  if (!connectFailure || !attempt.replayable) return { retry: false, connectFailure };
  const delayMs = backoffMs(attempt.attempts, policy);
  if (attempt.elapsedMs + delayMs >= policy.budgetMs) return { retry: false, connectFailure };
  return { retry: true, delayMs };
}
