/**
 * When to try a failed fetch again: exponential backoff with jitter, so that the pods of a
 * rollout that all found the store down do not all come back at the same instant. Pure: the
 * randomness is an argument.
 */

/** The first delay and the longest one. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** 0.5 s, doubling up to 10 s: a store restarting is back within a few attempts, a deadline of minutes sees many. */
export const DEFAULT_BACKOFF: Backoff = { baseMs: 500, maxMs: 10_000 };

/**
 * The delay before attempt `attempt + 1`, after `attempt` (1, 2, ...) failed: base doubling per
 * attempt, capped, then "equal jitter": half of it fixed, half random, so that a delay is never
 * near zero yet the pods of a rollout spread out. `random` returns a number in [0, 1).
 */
export function retryDelayMs(attempt: number, random: () => number, backoff: Backoff = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
