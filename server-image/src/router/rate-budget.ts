/**
 * A token bucket: at most `perSecond` admissions per second, in bursts of up to one second's
 * worth; 0 admits every one. The router's drift part takes a sample of each revision's requests
 * with it, so its cost stays bounded however much traffic comes (see drift.ts).
 */
export class RateBudget {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = perSecond;
    this.at = now();
  }

  /** Whether one more admission fits now (and takes it). */
  take(): boolean {
    if (this.perSecond === 0) return true;
    const t = this.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((t - this.at) * this.perSecond) / 1000);
    this.at = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
