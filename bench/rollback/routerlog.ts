/**
 * Reads the router's own record of when it put routes in force: its JSON log lines
 * `{"time": ..., "msg": "routes applied", "generation": ..., "weights": {...}}` (server-image/src/router/main.ts).
 * Pure: text in, entries out.
 */

/** One "routes applied" line of a router pod's log. */
export interface RoutesApplied {
  /** Date.parse of the line's time. */
  at: number;
  generation: number;
  weights: Record<string, number>;
}

/** The "routes applied" entries of a router log, in file order; other and malformed lines are skipped. */
export function routesAppliedIn(logText: string): RoutesApplied[] {
  const out: RoutesApplied[] = [];
  for (const line of logText.split('\n')) {
    if (!line.includes('"routes applied"')) continue;
    let entry: { time?: unknown; msg?: unknown; generation?: unknown; weights?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    const at = typeof entry.time === 'string' ? Date.parse(entry.time) : NaN;
    if (
      entry.msg !== 'routes applied' ||
      Number.isNaN(at) ||
      typeof entry.generation !== 'number' ||
      typeof entry.weights !== 'object' ||
      entry.weights === null
    )
      continue;
    out.push({ at, generation: entry.generation, weights: entry.weights as Record<string, number> });
  }
  return out;
}

/** When a router first applied routes of this generation at or after `since`; undefined if it has not. */
export function appliedAt(entries: readonly RoutesApplied[], generation: number, since: number): number | undefined {
  return entries.find((e) => e.generation === generation && e.at >= since)?.at;
}
